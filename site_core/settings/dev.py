"""Local development and `make run`: debug on, no secret needed."""

import os

from .base import *  # noqa: F401,F403
from .base import STORAGES

DEBUG = True
SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-never-use-in-production"
# Tests payments and the demo work without a provider account.
CABINET_TEST_PAYMENTS = True
# Runserver/uvicorn serve files from the apps' static folders straight away.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
