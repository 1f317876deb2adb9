"""The live pushes of the twins domain (core.live sends them): the event shapes listed in core/live.py."""

from __future__ import annotations

from typing import Any


def reading_event(reading, *, twin=None, latest: bool = False) -> dict[str, Any]:
    """The push for one stored reading (`twin` defaults to reading.twin; pass it to avoid a query)."""
    twin = twin or reading.twin
    return {
        "kind": "reading",
        "thing": twin.slug,
        "reading": {
            "id": reading.pk,
            "kind": reading.kind,
            "value": reading.value,
            "unit": reading.unit,
            "time": reading.time.isoformat(),
            "source": reading.source,
        },
        "latest": latest,
    }


def note_event(note, *, action: str) -> dict[str, Any]:
    return {
        "kind": "note",
        "thing": note.twin.slug,
        "action": action,
        "note": {"id": note.pk, "title": note.title, "text": note.text, "time": note.time.isoformat()},
    }
