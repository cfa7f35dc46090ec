"""French is the default language: every string of ours has a French translation."""

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = sorted(p for p in ROOT.glob("*/**/locale/fr/LC_MESSAGES/django.po") if ".venv" not in p.parts)


def test_every_app_with_strings_has_a_french_catalog():
    found = {p.relative_to(ROOT).parts[0] if p.parts[-5] == "site_core" else p.parts[-5] for p in CATALOGS}
    assert {"site_core", "accounts", "contact", "booking", "payments_stripe", "payments_paypal"} <= found


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_french_catalog_is_complete_and_compiles(path, tmp_path):
    catalog = polib.pofile(str(path))
    missing = [e.msgid for e in catalog if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    assert missing == []
    catalog.save_as_mofile(str(tmp_path / "django.mo"))


def test_a_page_is_french_by_default_and_english_under_en(client, practice):
    assert "Aller au contenu" in client.get("/").content.decode()
    assert "Skip to content" in client.get("/en/").content.decode()


ALL_CATALOGS = sorted(p for p in ROOT.glob("*/**/locale/*/LC_MESSAGES/django.po") if ".venv" not in p.parts)


def entries_without_msgstr(text):
    """Line numbers of msgid blocks not followed by a msgstr (or msgid_plural): polib reads past such a
    block silently, gluing it to the next entry, so a string goes untranslated without any error."""
    lines = text.split("\n")
    faults, i = [], 0
    while i < len(lines):
        if lines[i].startswith("msgid "):
            j = i + 1
            while j < len(lines) and lines[j].startswith('"'):
                j += 1
            if j >= len(lines) or not lines[j].startswith(("msgstr", "msgid_plural")):
                faults.append(i + 1)
            i = j
        else:
            i += 1
    return faults


@pytest.mark.parametrize("path", ALL_CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_catalog_is_well_formed(path):
    """A merge once left an entry without its msgstr in the English catalog."""
    assert entries_without_msgstr(path.read_text(encoding="utf-8")) == []


def test_the_form_check_catches_a_lost_msgstr():
    assert entries_without_msgstr('msgid "a"\nmsgstr ""\n\nmsgid ""\n"b"\n#: x.py\nmsgid "c"\nmsgstr ""\n') == [4]
