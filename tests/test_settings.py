"""Production settings: deploy checks, cookies, refusal to start without secrets."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 30 + "-production-secret-key-for-the-check-only-" + "y" * 20,
    "ALLOWED_HOSTS": "things.example.org",
    "SITE_URL": "https://things.example.org",
    "KEY_ENCRYPTION_KEY": "q0Z3Vn1f8qU8n3bMZr3Jx0hX3o1Z8pQ2VfO4lN7eW1A",
    "DATABASE_URL": "sqlite:///prod-check.sqlite3",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}


def _run(args: list[str], env_overrides: dict[str, str], drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", *drop)}
    env.update(env_overrides)
    for key in drop:
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_on_production_settings():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = _run(["check"], PRODUCTION_ENV, drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_session_cookie_is_host_prefixed_secure_httponly_lax():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE,"
        " s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE)"
    )
    result = _run(["shell", "-v", "0", "-c", code], PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["__Host-sessionid", "True", "True", "Lax", "__Host-csrftoken", "True"]


def test_bad_boolean_setting_is_a_clear_configuration_error():
    result = _run(["check"], {**PRODUCTION_ENV, "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_production_refuses_to_start_without_key_encryption_key():
    result = _run(["check"], PRODUCTION_ENV, drop=("KEY_ENCRYPTION_KEY",))
    assert result.returncode != 0
    assert "KEY_ENCRYPTION_KEY must be set when DEBUG is off" in result.stderr


def test_all_zero_key_encryption_key_is_refused():
    result = _run(["check"], {**PRODUCTION_ENV, "KEY_ENCRYPTION_KEY": "A" * 43})
    assert result.returncode != 0
    assert "must not be all zeros" in result.stderr
