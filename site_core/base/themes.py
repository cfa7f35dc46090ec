"""Themes: a folder under themes/ whose templates override any template.

``themes/<name>/templates/`` is searched before the apps' templates, so a
theme overrides only what it wants and falls back to the default for the
rest. ``themes/<name>/static/<name>/`` holds its CSS. The site's theme is
chosen in Practice settings; the loader reads it from the request being
served (site_core.base.context), and the cache keys templates by theme.
"""

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template.loaders.cached import Loader as DjangoCachedLoader
from django.template.loaders.filesystem import Loader as FilesystemLoader

DEFAULT_THEME = "atelier"


@cache
def available_themes() -> dict[str, dict]:
    """{name: metadata} for every folder of themes/ with a theme.json."""
    themes = {}
    for folder in sorted(Path(settings.THEMES_DIR).iterdir()):
        meta_file = folder / "theme.json"
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            meta["path"] = folder
            themes[folder.name] = meta
    return themes


def theme_choices():
    return [(name, meta.get("label", name)) for name, meta in available_themes().items()]


def active_theme() -> str:
    """The theme of the site being served (the default outside a request)."""
    from site_core.base.context import get_current_request, practice_settings

    request = get_current_request()
    if request is None:
        return DEFAULT_THEME
    cached = getattr(request, "_cabinet_theme", None)
    if cached:
        return cached
    theme = DEFAULT_THEME
    practice = practice_settings()
    if practice is not None and practice.theme in available_themes():
        theme = practice.theme
    request._cabinet_theme = theme
    return theme


class ThemeLoader(FilesystemLoader):
    """Looks in the active theme's templates folder."""

    def get_dirs(self):
        meta = available_themes().get(active_theme())
        return [meta["path"] / "templates"] if meta else []


class CachedThemeLoader(DjangoCachedLoader):
    """Django's cached loader, with the theme in the cache key.

    Without it, the first theme to render a template would serve it to
    every site.
    """

    def cache_key(self, template_name, skip=None):
        return f"{active_theme()}:{super().cache_key(template_name, skip)}"
