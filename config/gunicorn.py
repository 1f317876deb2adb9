"""gunicorn's settings for production (`gunicorn -c python:config.gunicorn config.wsgi`): its access and error logs
go through the same filter as the app's (core.logging), so bearer tokens in URLs are written as [redacted]."""

from core.logging import GUNICORN_LOGCONFIG as logconfig_dict  # noqa: F401 (read by gunicorn)

access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)s'
