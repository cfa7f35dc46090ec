"""Template context every page gets: the practice, the menu, the language switcher."""

from django.conf import settings
from django.urls import translate_url
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from site_core.base.context import current_site


def _menu_pages(request):
    site = current_site()
    if site is None:
        return []
    root = site.root_page.localized
    # specific(defer=True) builds the specific pages from the base rows, without
    # querying their tables; combined with only() it would instead load each
    # missing field with its own query (about twenty per menu item).
    return list(root.get_children().live().in_menu().specific(defer=True))


def _language_links(request):
    """[(code, name, url, is_current)] to the same page in each language."""
    current = translation.get_language()
    route = getattr(request, "_wagtail_route_for_request", None)
    page = route[0] if route else None
    links = []
    translations = {}
    if page is not None:
        for other in page.get_translations(inclusive=True).live().select_related("locale"):
            translations[other.locale.language_code] = other
    for code, name in settings.LANGUAGES:
        if code in translations:
            url = translations[code].get_url(request)
        elif page is not None:
            with translation.override(code):
                url = "/" if code == settings.LANGUAGE_CODE else f"/{code}/"
        else:
            url = translate_url(request.get_full_path(), code)
        links.append({"code": code, "name": name, "url": url, "current": code == current})
    return links


def cabinet(request):
    from site_core.base.themes import active_theme
    from site_core.modules import enabled_labels
    from site_core.practice.models import PracticeSettings

    site = current_site()
    return {
        "theme": active_theme(),
        "practice": SimpleLazyObject(lambda: PracticeSettings.for_request(request)) if site else None,
        "menu_pages": SimpleLazyObject(lambda: _menu_pages(request)),
        "language_links": SimpleLazyObject(lambda: _language_links(request)),
        "modules_on": SimpleLazyObject(lambda: enabled_labels(site)),
    }
