"""Compiles every .po of the project into .mo with polib: no system gettext needed."""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compiles the project's .po files to .mo (pure Python, no gettext)."

    def handle(self, *args, **options):
        roots = [Path(settings.BASE_DIR) / "site_core", Path(settings.BASE_DIR) / "modules"]
        count = 0
        for root in roots:
            for po_path in sorted(root.glob("**/locale/*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
                count += 1
        self.stdout.write(f"{count} translation file(s) compiled.")
