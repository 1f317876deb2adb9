"""Links other features add to a product model's page for its organisation's members (firmware releases, …):
makers names none of them; each registers from its AppConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from makers.models import Organisation, ProductModel


@dataclass(frozen=True)
class ModelLink:
    label: str
    url_name: str  # reversed with the organisation's slug and the model's GTIN


_LINKS: list[ModelLink] = []


def register_model_link(link: ModelLink) -> None:
    if link not in _LINKS:
        _LINKS.append(link)


def model_links(organisation: Organisation, model: ProductModel) -> list[tuple[str, str]]:
    """(label, URL) of every registered link for this model's page."""
    return [(link.label, reverse(link.url_name, args=[organisation.slug, model.gtin])) for link in _LINKS]
