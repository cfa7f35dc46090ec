"""Production configuration: Django's deploy checks and the static files pipeline.

The deploy check runs as `manage.py check --deploy` would in a real deployment, in
a subprocess with production settings. DATABASE_URL and REDIS_URL are removed
from its environment (pointing the database at a file that is never created):
the checks read the configuration and need no running service, and a developer's
or CI's own DATABASE_URL must not decide the outcome.
"""

import json
import os
import re
import secrets
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

MANAGE = os.path.join(settings.BASE_DIR, "manage.py")


def run_manage(*args, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE",
                                "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environment.update({
        "DJANGO_SETTINGS_MODULE": "site_core.settings.production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.sqlite3'}",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    environment.update(env)
    return subprocess.run([sys.executable, MANAGE, *args], capture_output=True, text=True,
                          cwd=settings.BASE_DIR, env=environment, timeout=120)


def test_deploy_check_passes_with_a_real_secret(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path,
                        SECRET_KEY=secrets.token_urlsafe(50)[:50], ALLOWED_HOSTS="example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert not (tmp_path / "never-created.sqlite3").exists()


def test_production_refuses_to_start_without_a_secret(tmp_path):
    result = run_manage("check", "--deploy", tmp_path=tmp_path, ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_weak_secret_fails_the_deploy_check(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path,
                        SECRET_KEY="short", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def test_production_settings_are_safe(tmp_path):
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'ssl': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS,"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE,"
        "'test_payments': s.CABINET_TEST_PAYMENTS, 'hosts': s.ALLOWED_HOSTS,"
        "'storage': s.STORAGES['staticfiles']['BACKEND']}))"
    )
    result = run_manage("shell", "-c", code, tmp_path=tmp_path, SECRET_KEY=secrets.token_urlsafe(50),
                        ALLOWED_HOSTS="example.com,www.example.com")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False, "ssl": True, "hsts": 31536000, "session_secure": True,
        "csrf_secure": True, "test_payments": False, "hosts": ["example.com", "www.example.com"],
        "storage": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    }


def test_collectstatic_produces_hashed_compressed_files(tmp_path):
    """With the production storage, files get a content hash (far-future caching) and gzip copies."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from site_core.settings import base

    root = tmp_path / "static"
    with override_settings(STORAGES=base.STORAGES, STATIC_ROOT=str(root)):
        call_command("collectstatic", interactive=False, verbosity=0)
        paths = json.loads((root / "staticfiles.json").read_text())["paths"]
        for name in ("site_core/base.css", "atelier/theme.css", "horizon/theme.css"):
            hashed = paths[name]
            assert re.fullmatch(re.escape(name[:-4]) + r"\.[0-9a-f]{12}\.css", hashed), hashed
            assert (root / hashed).read_bytes() == (root / name).read_bytes()
        # Compressed copies sit next to the files where it pays (not for a few bytes).
        assert any((root / f"{hashed}.gz").exists() for hashed in paths.values())
        assert staticfiles_storage.url("site_core/base.css") == f"/static/{paths['site_core/base.css']}"
