"""Settings for the test suite: development defaults, inline tasks, fast password hashing."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("STATIC_MANIFEST", "0")

from config.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

# WhiteNoise warns about a missing STATIC_ROOT on every request; tests serve through the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
# pytest-django turns DEBUG off during tests; serve static files from the app folders as in development.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # test peers (DIDComm, ACA-Py) listen on loopback: core/netguard.py
