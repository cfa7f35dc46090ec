"""Settings for the server the benchmarks load: dev settings, but run like production.

DEBUG off (no query log, no debug pages, cached templates), every host
allowed (the load generator talks to 127.0.0.1 on a random port), logging
down to warnings so a request log line never costs time, and bench.urls as
root URLconf for the plain reference view.
"""

from site_core.settings.dev import *  # noqa: F401,F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
# Static files come from the finders (nothing is collected for a throwaway
# run), but are not rescanned on every request as in development.
WHITENOISE_AUTOREFRESH = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # A 500 during a run is printed (the bench reports the server's stderr).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
