"""Demo data seam: features add their part to each demo thing that `python manage.py load_demo` creates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_steps: list[Callable[[Any], None]] = []


def register_demo_step(step: Callable[[Any], None]) -> None:
    """`step(twin)` runs, in load_demo's transaction, for each demo thing it creates (not for existing ones)."""
    if step not in _steps:
        _steps.append(step)


def demo_steps() -> list[Callable[[Any], None]]:
    return list(_steps)
