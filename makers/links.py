"""Links other features add to makers' pages for an organisation's members: a product model's page (firmware
releases, …) and the organisation's dashboard (support cases, …). makers names none of them; each feature
registers from its AppConfig.ready()."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from makers.models import Organisation, ProductModel


@dataclass(frozen=True)
class ModelLink:
    label: str
    url_name: str  # reversed with the organisation's slug and the model's GTIN


@dataclass(frozen=True)
class OrganisationLink:
    label: str
    url_name: str  # reversed with the organisation's slug


_MODEL_LINKS: list[ModelLink] = []
_ORGANISATION_LINKS: list[OrganisationLink] = []


def register_model_link(link: ModelLink) -> None:
    if link not in _MODEL_LINKS:
        _MODEL_LINKS.append(link)


def register_organisation_link(link: OrganisationLink) -> None:
    if link not in _ORGANISATION_LINKS:
        _ORGANISATION_LINKS.append(link)


def model_links(organisation: Organisation, model: ProductModel) -> list[tuple[str, str]]:
    """(label, URL) of every registered link for this model's page."""
    return [(link.label, reverse(link.url_name, args=[organisation.slug, model.gtin])) for link in _MODEL_LINKS]


def organisation_links(organisation: Organisation) -> list[tuple[str, str]]:
    """(label, URL) of every registered link for the organisation's dashboard."""
    return [(link.label, reverse(link.url_name, args=[organisation.slug])) for link in _ORGANISATION_LINKS]
