"""Who may do what with a twin: the owner everything, anyone else what a feature's credential says, now.

The core knows one rule of its own: the owner holds every capability. Everyone else gets capabilities from
providers that features register from their ``AppConfig.ready()`` (credentials: keepers and service parties), so
twins never imports a feature. A provider answers from the database on every call, with no cache: a revoked or
expired credential stops working on the very next request.

Selectors use this module (twins.selectors.twin_get(need=...), twin_list(include_kept=True)); views never ask a
provider themselves. The default need is OWNER, so a route that does not ask for a capability on purpose stays
owner-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The owner's own: every capability, and what no delegation can give (transfer, delete, grants, credentials,
# contact data, tags, sharing). Not a capability a provider may hand out.
OWNER = "owner"
# What a delegation can give.
VIEW = "view"  # open the thing's private page (its details, not the owner's contact data or settings)
READINGS_READ = "readings.read"
READINGS_WRITE = "readings.write"  # any kind, movements (location readings) included
JOURNAL_READ = "journal.read"
JOURNAL_WRITE = "journal.write"  # add and edit journal entries (not delete)

CAPABILITIES: dict[str, str] = {
    VIEW: "Open the thing's page",
    READINGS_READ: "Read readings",
    READINGS_WRITE: "Add readings (and movements)",
    JOURNAL_READ: "Read the journal",
    JOURNAL_WRITE: "Add and edit journal entries",
}


@dataclass(frozen=True)
class Access:
    """What one viewer may do with one twin now. `role` names why ("owner", "keeper", "service")."""

    role: str
    capabilities: frozenset[str]

    @property
    def owner(self) -> bool:
        return self.role == OWNER

    def can(self, capability: str) -> bool:
        return self.owner or capability in self.capabilities

    def flags(self) -> dict[str, bool]:
        """For templates, which cannot call can(): {"view": True, "readings_read": False, ...}."""
        return {name.replace(".", "_"): self.can(name) for name in (OWNER, *CAPABILITIES)}


OWNER_ACCESS = Access(role=OWNER, capabilities=frozenset(CAPABILITIES))

# provider(viewer, twin) -> the capabilities the viewer has on twin now, or None. Never called for the owner.
Provider = Callable[[Any, Any], Access | None]
# listed(viewer) -> {twin id: badge} of the twins the viewer looks after, shown among their cards.
Listed = Callable[[Any], dict[int, str]]

_providers: dict[str, tuple[Provider, Listed | None]] = {}


def register_provider(name: str, provider: Provider, listed: Listed | None = None) -> None:
    """Register (or replace: ready() may run twice in tests) a feature's provider of capabilities."""
    _providers[name] = (provider, listed)


def access_for(viewer: Any, twin: Any) -> Access | None:
    """The viewer's access to `twin` now: the owner's without a query, else the union of what the providers
    give (one query each), else None."""
    if not getattr(viewer, "is_authenticated", False):
        return None
    if twin.owner_id == viewer.pk:
        return OWNER_ACCESS
    found = [access for provider, _ in _providers.values() if (access := provider(viewer, twin)) is not None]
    if not found:
        return None
    capabilities = frozenset().union(*(access.capabilities for access in found)) - {OWNER}
    return Access(role=found[0].role, capabilities=capabilities)


def kept_twins(viewer: Any) -> dict[int, str]:
    """{twin id: badge} of the twins other owners let the viewer look after (for the cards list)."""
    kept: dict[int, str] = {}
    for _, listed in _providers.values():
        if listed is not None:
            for twin_id, badge in listed(viewer).items():
                kept.setdefault(twin_id, badge)
    return kept
