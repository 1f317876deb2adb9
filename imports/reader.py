"""Reading an import file row by row, never whole: CSV (a heading row; UTF-8 with or without BOM; comma or
semicolon, whichever the heading line has more of) or JSON (an array of objects, or one object per line).

Bytes that are not UTF-8 do not stop the file: they are decoded with `surrogateescape`, and the cell holding them
becomes that row's error naming the byte. What stops a file is only what makes the rest unreadable (no heading
row, a heading that cannot be a column, a cell over :data:`MAX_CELL`, broken JSON): :class:`FileRefused`.

Row numbers are those a person sees: in a CSV the heading is row 1 and the first thing row 2 (a quoted newline does
not start a new row); in JSON the first object is row 1.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from core.csvsafe import unguard
from core.parsers import JSONRefused, raw_decode
from core.validators import is_storable_text

# A cell longer than this stops the file (the csv module must hold the cell to read past it). Cells up to it are
# read, and one longer than its column allows is that row's error.
MAX_CELL = 4 * 1024 * 1024
MAX_ATTRIBUTE_KEY = 60
MAX_ATTRIBUTE_COLUMNS = 50

# Known columns, by their normalized heading ("External ID" -> external_id).
KNOWN = {
    "name": "name",
    "model": "model",
    "model_name": "model",
    "serial": "serial",
    "serial_number": "serial",
    "external_id": "external_id",
    "group": "group",
    "tag_code": "tag_code",
    "tag": "tag_code",
}
PHOTO = {"photo", "photo_url", "image", "image_url", "picture"}
PHOTO_REFUSED = (
    "photos are not fetched from addresses in a file: remove this column and add photos on each thing's page"
)


class FileRefused(Exception):
    """The file cannot be read (further): `message` says where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RawRow:
    number: int
    # Column key (a KNOWN value, or an attribute's name) -> text; a column absent from this row is not a key.
    cells: dict[str, str]
    problems: list[tuple[str, str]] = field(default_factory=list)


_SHOWN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def shown(text: str) -> str:
    """Text from the file made safe to quote in a message (a bad byte or a NUL shows as �)."""
    return _SHOWN.sub("\ufffd", text)


def normalize_heading(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def bad_byte(text: str) -> str | None:
    """Where the first byte that was not UTF-8 is, in words, or None."""
    for index, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            return f"not valid UTF-8 (byte 0x{ord(char) - 0xDC00:02X} at character {index + 1})"
    return None


def column_key(heading: str) -> tuple[str, str | None]:
    """(the key a heading stands for, why it cannot be a column or None)."""
    raw = heading.strip()
    normal = normalize_heading(raw)
    if normal in KNOWN:
        return KNOWN[normal], None
    if normal in PHOTO:
        return normal, PHOTO_REFUSED
    if not raw:
        return "", "has no heading: name it (any other heading becomes an attribute) or remove the column"
    problem = bad_byte(raw)
    if problem:
        return shown(raw[:40]), f"heading is {problem}"
    if len(raw) > MAX_ATTRIBUTE_KEY or not is_storable_text(raw):
        return shown(raw[:40]), (
            f"cannot be an attribute name (1–{MAX_ATTRIBUTE_KEY} characters, no control characters): "
            "rename the column or remove it"
        )
    return raw, None


def text_stream(binary: IO[bytes]) -> io.TextIOWrapper:
    # utf-8-sig drops a BOM if there is one; surrogateescape keeps a bad byte as a marker in its cell.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def sniff_format(head: bytes) -> str:
    """ "json" when the file's first non-space character opens an array or an object, else "csv"."""
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return "json" if stripped[:1] in (b"[", b"{") else "csv"


def rows(binary: IO[bytes], fmt: str) -> Iterator[RawRow]:
    text = text_stream(binary)
    yield from (json_rows(text) if fmt == "json" else csv_rows(text))


# --- CSV -----------------------------------------------------------------------------------------------------------


def csv_rows(text: IO[str]) -> Iterator[RawRow]:
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    first = text.readline(MAX_CELL)
    if not first.strip():
        raise FileRefused("row 1: the file is empty or has no heading row (name, model, serial, …)")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    number = 0  # the last row read whole
    try:
        headings = next(reader)
        keys = _csv_keys(headings)
        number = 1
        for cells in reader:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue
            yield _csv_row(number, keys, cells)
    except csv.Error as exc:
        raise FileRefused(f"row {number + 1:,}: the file cannot be read past here ({exc})") from None


def _csv_keys(headings: list[str]) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    attributes = 0
    for index, heading in enumerate(headings, start=1):
        # An export guards its headings (attribute names) as it guards cells (core.csvsafe): the same name back.
        key, problem = column_key(unguard(heading))
        label = f"column {index}" + (f" ({shown(heading.strip()[:40])})" if heading.strip() else "")
        if problem:
            raise FileRefused(f"row 1, {label}: {problem}")
        folded = key.casefold()
        if folded in seen:
            raise FileRefused(f"row 1, {label}: the same column as column {seen[folded]}; keep one of them")
        seen[folded] = index
        attributes += key not in KNOWN.values()
        keys.append(key)
    if attributes > MAX_ATTRIBUTE_COLUMNS:
        raise FileRefused(f"row 1: {attributes} attribute columns; a thing has at most {MAX_ATTRIBUTE_COLUMNS}")
    return keys


def _csv_row(number: int, keys: list[str], cells: list[str]) -> RawRow:
    row = RawRow(number=number, cells={})
    if len(cells) > len(keys):
        extra = cells[len(keys) :]
        if any(cell.strip() for cell in extra):
            row.problems.append(("", f"{len(cells)} cells, but the heading row names {len(keys)} columns"))
    for key, cell in zip(keys, cells, strict=False):
        problem = bad_byte(cell)
        if problem:
            row.problems.append((key, problem))
            continue
        row.cells[key] = unguard(cell)
    for key in keys[len(cells) :]:
        row.cells[key] = ""  # a spreadsheet leaves trailing empty cells out
    return row


# --- JSON ----------------------------------------------------------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")
_READ = 64 * 1024


class _Buffer:
    """A window on the text: read on as needed, keeping only what is not consumed yet."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self) -> None:
        chunk = self.text.read(_READ)
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk

    def peek(self) -> str:
        """The next non-space character ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos : self.pos + 1]
            self.more()


def json_rows(text: IO[str]) -> Iterator[RawRow]:
    buffer = _Buffer(text)
    opener = buffer.peek()
    if opener not in ("[", "{"):
        raise FileRefused("row 1: a JSON import is an array of objects ([{…}, {…}]) or one object per line")
    array = opener == "["
    if array:
        buffer.pos += 1
    number = 0
    while True:
        nxt = buffer.peek()
        if array and nxt == "]" and number == 0:
            buffer.pos += 1
            break
        if not nxt:
            if array:
                raise FileRefused(f"row {number + 1:,}: the file ends before the array's closing ]")
            break
        number += 1
        while True:
            try:
                value, end = raw_decode(buffer.buf, buffer.pos)
            except JSONRefused as exc:
                # Nested too deeply, or a number of more digits than int() takes: more text would not help. Before
                # this, both escaped the dry run (a 500) and left its run confirmable with no tag-code budget.
                raise FileRefused(f"row {number:,}: not valid JSON ({exc})") from None
            except json.JSONDecodeError as exc:
                if buffer.eof or len(buffer.buf) - buffer.pos > MAX_CELL:
                    raise FileRefused(f"row {number:,}: not valid JSON ({exc.msg})") from None
                buffer.more()
                continue
            if end == len(buffer.buf) and not buffer.eof and not isinstance(value, dict | list | str):
                buffer.more()  # a number may go on in the next piece
                continue
            break
        buffer.pos = end
        yield _json_row(number, value)
        if array:
            nxt = buffer.peek()
            if nxt == ",":
                buffer.pos += 1
            elif nxt == "]":
                buffer.pos += 1
                break
            else:
                raise FileRefused(f"row {number:,}: expected , or ] after this object")
    if buffer.peek():
        raise FileRefused(f"row {number:,}: there is more text after the array's closing ]")


def _json_row(number: int, value: object) -> RawRow:
    row = RawRow(number=number, cells={})
    if not isinstance(value, dict):
        row.problems.append(("", "each row is an object of column names to values"))
        return row
    attributes = 0
    for heading, item in value.items():
        key, problem = column_key(heading)
        if problem:
            row.problems.append((key or "(empty name)", problem))
            continue
        if key in row.cells:
            row.problems.append((key, "given twice in this object"))
            continue
        attributes += key not in KNOWN.values()
        if item is None:
            row.cells[key] = ""
        elif isinstance(item, str):
            problem = bad_byte(item)
            if problem:
                row.problems.append((key, problem))
            else:
                row.cells[key] = item
        elif isinstance(item, int | float) and not isinstance(item, bool):
            row.cells[key] = str(item)
        else:
            row.problems.append((key, "must be text or a number"))
    if attributes > MAX_ATTRIBUTE_COLUMNS:
        row.problems.append(("", f"{attributes} attributes; a thing has at most {MAX_ATTRIBUTE_COLUMNS}"))
    return row
