"""Features' panels and links on a thing's private page declare what they need (twins.panels); the default is
the owner alone, so a feature that says nothing never leaks its section to a keeper or a service party."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from twins import access, panels

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_sections():
    """Three panels and two links of a pretend feature, removed again after the test."""
    added = [
        panels.Panel("t-owner", "t/owner.html", context=lambda request, twin: {"t_owner": 1}),
        panels.Panel("t-view", "t/view.html", needs=access.VIEW, context=lambda request, twin: {"t_view": 1}),
        panels.Panel("t-readings", "t/readings.html", needs=lambda a: a.can(access.READINGS_READ)),
    ]
    links = [
        panels.Link("Owner's", "thing-edit"),
        panels.Link("Everyone's", "thing-edit", panels.READINGS, needs=access.VIEW),
    ]
    saved_panels, saved_links = dict(panels._panels), dict(panels._links)
    for panel in added:
        panels.register_panel(panel)
    for link in links:
        panels.register_link(link)
    yield
    panels._panels.clear()
    panels._panels.update(saved_panels)
    panels._links.clear()
    panels._links.update(saved_links)


def _page_for(twin, viewer_access):
    twin.access = viewer_access
    context = panels.page_context(RequestFactory().get("/"), twin)
    templates = [template for slot in context["panels"].values() for template in slot]
    labels = [link["label"] for slot in context["feature_links"].values() for link in slot]
    return context, templates, labels


def test_a_keeper_sees_only_the_sections_their_capabilities_allow(grinder, test_sections):
    keeper = access.Access(role="keeper", capabilities=frozenset({access.VIEW}))
    context, templates, labels = _page_for(grinder, keeper)
    assert "t/view.html" in templates and "t/owner.html" not in templates and "t/readings.html" not in templates
    assert "Everyone's" in labels and "Owner's" not in labels
    # The context of a panel the keeper may not see is not computed either.
    assert "t_view" in context and "t_owner" not in context


def test_a_callable_need_reads_the_viewers_capabilities(grinder, test_sections):
    reader = access.Access(role="service", capabilities=frozenset({access.VIEW, access.READINGS_READ}))
    _, templates, _ = _page_for(grinder, reader)
    assert "t/readings.html" in templates and "t/owner.html" not in templates


def test_the_owner_sees_every_section(grinder, test_sections):
    _, templates, labels = _page_for(grinder, access.OWNER_ACCESS)
    assert {"t/owner.html", "t/view.html", "t/readings.html"} <= set(templates)
    assert {"Owner's", "Everyone's"} <= set(labels)


def test_no_access_sees_nothing(grinder, test_sections):
    _, templates, labels = _page_for(grinder, None)
    assert templates == [] and labels == []
