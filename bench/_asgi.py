"""bench/scan.py's uvicorn comparison: config.asgi's application, imported outside uvicorn's event loop.

uvicorn imports its application inside the running event loop, where Django refuses database work; with DEBUG off
config.asgi checks the stored NFC keys at import (tags.nfc_checks.refuse_weak_sun_keys_at_startup), which then
fails with SynchronousOnlyOperation in every worker, and uvicorn restarts them without end (daphne and gunicorn
import the application before any loop runs). Importing it in a thread of its own, as they effectively do, keeps
the check (a weak key still refuses the start) until tags.nfc_checks does the same itself (asked in
/work/briefs/status.md, session 10). Not a benchmark (run_all.py skips files starting with "_")."""

from __future__ import annotations

import importlib
import threading

_loaded: dict[str, object] = {}


def _load() -> None:
    try:
        _loaded["application"] = importlib.import_module("config.asgi").application
    except BaseException as exc:  # re-raised in the importing thread, so the worker fails with the check's words
        _loaded["error"] = exc


_thread = threading.Thread(target=_load, name="import-config.asgi")
_thread.start()
_thread.join()
if "error" in _loaded:
    raise _loaded["error"]
application = _loaded["application"]
