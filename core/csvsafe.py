"""The CSV-injection guard, for every CSV the app writes, and its undoing, for the one it reads (imports).

A spreadsheet opening a CSV runs a cell that starts with = + - @ (or a tab or CR before one) as a formula: a
HYPERLINK that sends its neighbours' cells away when clicked, a DDE command. Text someone else wrote (a keeper's
reading kind, an attribute name a seller left on a thing, a serial) must not reach the owner's spreadsheet that way,
so every text cell of every CSV goes through :func:`guard` (best: write with :func:`writer`), which puts a leading
apostrophe before such a cell. Numbers given as numbers (an int or float, not text) are written as they are: a
number is never a formula, and a guarded ``'-3.5`` would no longer be a number in the spreadsheet.

:func:`unguard` removes exactly one guard, so an export reads back unchanged: the guard looks past apostrophes a cell
already has (``'=x`` is written ``''=x``), and a cell that needs no guard is never changed by either.

Plain Python: no Django, so any module (and a script) may use it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def needs_guard(cell: str) -> bool:
    """A cell that starts (after any apostrophes) like a formula."""
    bare = cell.lstrip("'")
    return bare[:1] in FORMULA_START and bare != ""


def guard[T](cell: T) -> T:
    """The cell as a spreadsheet will show it and never run: text that starts like a formula gets a leading
    apostrophe; anything else (other text, numbers, None) is returned as it is."""
    if isinstance(cell, str) and needs_guard(cell):
        return "'" + cell  # type: ignore[return-value]
    return cell


def unguard(cell: str) -> str:
    """Remove the guard: one leading apostrophe before what would read as a formula."""
    return cell[1:] if cell.startswith("'") and needs_guard(cell[1:]) else cell


def guarded[T](cells: Iterable[T]) -> list[T]:
    return [guard(cell) for cell in cells]


class GuardedWriter:
    """A csv.writer whose every row, the heading row included, goes through :func:`guard`. writerow returns what
    the underlying writer returns (the written line, with a file object that returns it, for streaming)."""

    def __init__(self, out: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(guarded(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self._writer.writerow(guarded(row))


def writer(out: Any, **fmtparams: Any) -> GuardedWriter:
    """csv.writer(out, **fmtparams) with the guard on every cell: the one way the app writes CSV."""
    return GuardedWriter(out, **fmtparams)


class _Echo:
    def write(self, value: str) -> str:
        return value


def line_writer(**fmtparams: Any) -> GuardedWriter:
    """A guarded writer whose writerow returns the line instead of writing it: for a streamed response, which
    never holds the whole file."""
    return GuardedWriter(_Echo(), **fmtparams)
