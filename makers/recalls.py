"""(being written) Recalls: issue, fan-out to every affected owner, acknowledgements."""

from __future__ import annotations

from makers.models import ProductModel, Recall


def recalls_for(model: ProductModel, *, serial: str | None = None) -> list[Recall]:
    """The recalls of `model` (those covering `serial` when given), newest first: what the model page, a twin's
    pages and the resolver's gs1:recallStatus show. (Stub until the recalls part lands: none.)"""
    return []


def connect() -> None:
    """Wire this part into the seams (called from the AppConfig.ready)."""
