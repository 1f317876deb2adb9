"""WSGI entry point: production HTTP (gunicorn); WebSockets go to the ASGI app."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# SECURITY 18: with DEBUG off, no start while weak NFC tag keys are stored (management commands still run).
from tags.nfc_checks import refuse_weak_sun_keys_at_startup  # noqa: E402

refuse_weak_sun_keys_at_startup()
