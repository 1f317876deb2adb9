"""The firmware part of a moving twin (issue 18): the release it accepted (what its device is offered) and its
decisions about releases.

Releases are the maker's, on the maker's instance, which may be neither the source nor this one: the twin's state
names a release by what identifies it everywhere (the model's GTIN, the version and the sequence) and is linked to
that release here when this instance has it. The accepted sequence travels either way: it is the floor of the
rollback check, so a release at or below it is refused here as it was there (SECURITY 35).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from firmware.models import Release, TwinFirmware, UpdateCheck
from firmware.services import HISTORY_KIND
from twins.models import Twin
from twins.portability import Arrival, Part, register


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _release(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    return {"gtin": release.model.gtin, "version": release.version, "sequence": release.sequence}


def _release_here(data: dict[str, Any] | None) -> Release | None:
    if not data:
        return None
    return Release.objects.filter(model__gtin=data["gtin"], version=data["version"], sequence=data["sequence"]).first()


def export(twin: Twin) -> dict[str, Any] | None:
    state = TwinFirmware.objects.filter(twin=twin).select_related("release__model").first()
    checks = list(UpdateCheck.objects.filter(twin=twin).select_related("release__model").order_by("created_at", "id"))
    if state is None and not checks:
        return None
    return {
        "state": None
        if state is None
        else {
            "release": _release(state.release),
            "sequence": state.sequence,
            "accepted_at": _iso(state.accepted_at),
        },
        "checks": [
            {
                "id": check.pk,
                "release": _release(check.release),
                "version": check.version,
                "sequence": check.sequence,
                "outcome": check.outcome,
                "reason": check.reason,
                "message": check.message,
                "by_owner": check.by_id is not None and check.by_id == twin.owner_id,
                "created_at": _iso(check.created_at),
            }
            for check in checks
        ],
    }


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    twin = arrival.twin
    state = data.get("state")
    if state:
        TwinFirmware.objects.create(
            twin=twin,
            release=_release_here(state["release"]),
            sequence=state["sequence"],
            accepted_at=_when(state["accepted_at"]),
        )
    for item in data.get("checks") or []:
        check = UpdateCheck.objects.create(
            twin=twin,
            release=_release_here(item["release"]),
            version=item["version"],
            sequence=item["sequence"],
            outcome=item["outcome"],
            reason=item["reason"],
            message=item["message"],
            by=arrival.owner if item["by_owner"] else None,
        )
        UpdateCheck.objects.filter(pk=check.pk).update(created_at=_when(item["created_at"]))
        # An acceptance's history entry points at its check (twins.parts maps ref_id through this).
        arrival.remember(f"history.{HISTORY_KIND}", item["id"], check)


register(
    Part(
        name="firmware",
        export=export,
        restore=_restore,
        after=("twin",),
        what="firmware state",
        replaces=("firmware.TwinFirmware", "firmware.UpdateCheck"),
    )
)
