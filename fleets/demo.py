"""Fleets' part of the demo data (`load_demo`): a site "Home" with the room "Kitchen" holding the grinder and the
glucose meter, and a "Herd" with Bessie the cow."""

from __future__ import annotations

from typing import Any

from fleets.services import group_for_import, members_add
from twins.demo import register_demo_step

# icon of a demo thing -> the group it joins ("Site / Room" or one name)
GROUPS = {"coffee": "Home / Kitchen", "health": "Home / Kitchen", "animal": "Herd"}


def demo_groups(twin: Any) -> None:
    """twins.demo step: each demo thing in its group (created once, found after)."""
    if twin.icon in GROUPS:
        members_add(group=group_for_import(owner=twin.owner, path=GROUPS[twin.icon]), twins=[twin])


def connect() -> None:
    register_demo_step(demo_groups)
