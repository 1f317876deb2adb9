"""ASGI entry point of the ingest gateway (ingest/gateway.py): `POST /hooks/<source-id>` only.

Run it with `python manage.py ingest_gateway`; the proxy sends `/hooks/` here and everything else to the web app.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from ingest.gateway import Gateway  # noqa: E402 (models need the app registry)

application = Gateway()
