"""Languages an expert may speak (ISO 639-1), names translated."""

from django.utils.translation import gettext_lazy as _

SPOKEN_LANGUAGES = [
    ("fr", _("French")),
    ("en", _("English")),
    ("es", _("Spanish")),
    ("de", _("German")),
    ("it", _("Italian")),
    ("pt", _("Portuguese")),
    ("nl", _("Dutch")),
    ("ar", _("Arabic")),
    ("zh", _("Chinese")),
    ("ru", _("Russian")),
]
SPOKEN_LANGUAGE_NAMES = dict(SPOKEN_LANGUAGES)


def spoken_language_choices():
    return SPOKEN_LANGUAGES
