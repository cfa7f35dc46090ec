"""The test suite: fast hashing, local memory, no real email."""

import os

from .base import *  # noqa: F401,F403
from .base import CACHES, CHANNEL_LAYERS, DATABASES, REDIS_URL, STORAGES

SECRET_KEY = "test-only-key"
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CABINET_TEST_PAYMENTS = True
# A developer's real gateway keys never reach the tests: each test that needs
# a gateway configures it (``settings`` fixture) and fakes its HTTP.
STRIPE_SECRET_KEY = STRIPE_PUBLISHABLE_KEY = STRIPE_WEBHOOK_SECRET = ""
PAYPAL_CLIENT_ID = PAYPAL_CLIENT_SECRET = PAYPAL_WEBHOOK_ID = ""
PAYPAL_ENVIRONMENT = ""
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
MEDIA_ROOT = os.environ.get("CABINET_TEST_MEDIA_ROOT", "/tmp/cabinet-test-media")
# Tests run tasks inline; the worker path has its own tests.
Q_CLUSTER = {"name": "cabinet-test", "orm": "default", "sync": True, "timeout": 30, "retry": 60}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CABINET_TEST_SQLITE", "")}
SMS_BACKEND = "site_core.base.sms.LocmemBackend"

# With REDIS_URL (CI), each pytest-xdist worker gets its own Redis database:
# the workers have their own test databases (site ids differ) and the suite
# clears the cache between tests, which must not wipe another worker's keys.
if REDIS_URL:
    from urllib.parse import urlsplit, urlunsplit

    _worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    _index = int(_worker[2:]) + 1 if _worker.startswith("gw") and _worker[2:].isdigit() else 0
    _parts = urlsplit(REDIS_URL)
    _url = urlunsplit(_parts._replace(path=f"/{int(_parts.path.strip('/') or 0) + 1 + _index}"))
    CACHES = {**CACHES, "default": {**CACHES["default"], "LOCATION": _url}}
    CHANNEL_LAYERS = {"default": {**CHANNEL_LAYERS["default"], "CONFIG": {"hosts": [_url]}}}
