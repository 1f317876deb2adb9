"""The one JSON parser of the API (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES). A module of its own: DRF imports the
parser setting while rest_framework.views is being imported, so it must not import views (core.drf does)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON, refusing text that is not valid Unicode: a lone UTF-16 surrogate (`"\\ud800"`) is valid JSON but no
    string can be stored, logged or echoed in an error with it (DRF's renderer raised a 500 echoing it back). The
    check costs one C-level encode of the parsed document; the path of the bad string is found only on failure."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ParseError(
                f"{_bad_text_path(data, '') or 'The body'}: not valid Unicode (a lone surrogate)."
            ) from None
        return data


def _bad_text_path(value: Any, path: str) -> str | None:
    """Where in a parsed JSON document the first string that does not encode is (`readings[1].kind`)."""
    if isinstance(value, str):
        return None if _encodes(value) else (path or "The body")
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if not _encodes(key):
                return path or "A key"
            if (found := _bad_text_path(item, here)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _bad_text_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
