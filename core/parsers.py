"""Reading untrusted JSON: :func:`loads` for every JSON that comes from outside (request bodies, uploads, pasted
text, other hosts' answers, MQTT messages), and the one JSON parser of the API (REST_FRAMEWORK's
DEFAULT_PARSER_CLASSES), which uses it. A module of its own: DRF imports the parser setting while
rest_framework.views is being imported, so it must not import views (core.drf does)."""

from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant


class JSONRefused(ValueError):
    """Text that the json module would not read to the end although it may be valid JSON: nested deeper than the
    interpreter's recursion limit, or a number longer than int() takes. A ValueError, so every caller that already
    refuses broken JSON (`except ValueError`) refuses these with it; `str()` is the reason in words."""


def loads(text: str | bytes | bytearray, **kwargs: Any) -> Any:
    """json.loads for untrusted text. It raises only ValueError (JSONDecodeError for broken JSON, JSONRefused for
    the two shapes below, UnicodeDecodeError for bytes that are not UTF-8), never RecursionError: `[[[[…` 100,000
    deep is 200 KB, and json.loads raised RecursionError on it (a 500 wherever only ValueError was caught)."""
    try:
        return json.loads(text, **kwargs)
    except (RecursionError, ValueError) as exc:
        raise _refused(exc) from None


_DECODER = json.JSONDecoder()


def raw_decode(text: str, index: int = 0) -> tuple[Any, int]:
    """json.JSONDecoder().raw_decode for untrusted text read a piece at a time (one value from `index`: the value
    and where it ends), raising as :func:`loads` does."""
    try:
        return _DECODER.raw_decode(text, index)
    except (RecursionError, ValueError) as exc:
        raise _refused(exc) from None


def _refused(exc: RecursionError | ValueError) -> ValueError:
    if isinstance(exc, RecursionError):
        return JSONRefused("the JSON is nested too deeply (arrays or objects inside each other)")
    # int() refuses a literal of more than sys.get_int_max_str_digits() digits (4,300) with a ValueError of its
    # own; its words name Python's setting, ours the input.
    if not isinstance(exc, json.JSONDecodeError | UnicodeDecodeError) and "digits" in str(exc):
        return JSONRefused("a number in the JSON has too many digits")
    return exc


class StrictJSONParser(JSONParser):
    """JSON, refusing text that is not valid Unicode: a lone UTF-16 surrogate (`"\\ud800"`) is valid JSON but no
    string can be stored, logged or echoed in an error with it (DRF's renderer raised a 500 echoing it back). The
    check costs one C-level encode of the parsed document; the path of the bad string is found only on failure."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        # DRF's JSONParser.parse, reading through loads(): it caught ValueError only, and a deep body was a 500.
        # get_encoding refuses a charset that is no text encoding (bz2_codec would decompress past the size limit).
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ParseError(f"{_where_bad_text(data)}: not valid Unicode (a lone surrogate).") from None
        return data


def _where_bad_text(data: Any) -> str:
    # A document just under the parse's depth limit walked again in Python frames, on a deeper stack, may not fit.
    try:
        return _bad_text_path(data, "") or "The body"
    except RecursionError:
        return "The body"


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
