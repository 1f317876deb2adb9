"""Firmware reads: a model's releases, what a twin runs and what it is offered (scoped by the callers' checks:
org pages through makers.access, twin pages through twins.selectors.twin_get)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, QuerySet

from firmware.models import FirmwarePolicy, Release, TwinFirmware, UpdateCheck
from firmware.services import READING_KIND, model_of
from makers.models import ProducedThing, ProductModel
from twins.models import Reading, Twin


def releases_of(model: ProductModel) -> QuerySet[Release]:
    return Release.objects.filter(model=model).order_by("-sequence")


def policy_row(model: ProductModel) -> FirmwarePolicy | None:
    return FirmwarePolicy.objects.filter(model=model).first()


def newest_published(model: ProductModel) -> Release | None:
    return Release.objects.filter(model=model, status=Release.Status.PUBLISHED).order_by("-sequence").first()


def release_at(model: ProductModel, sequence: int) -> Release | None:
    return Release.objects.filter(model=model, sequence=sequence).select_related("model__organisation").first()


@dataclass
class TwinStatus:
    model: ProductModel | None
    accepted: Release | None = None
    accepted_sequence: int | None = None
    newest: Release | None = None
    reported: Reading | None = None
    checks: list[UpdateCheck] = field(default_factory=list)

    @property
    def update_available(self) -> bool:
        return self.newest is not None and (
            self.accepted_sequence is None or self.newest.sequence > self.accepted_sequence
        )

    @property
    def accepted_withdrawn(self) -> bool:
        """The maker withdrew the release this twin accepted: its device is no longer served it."""
        return self.accepted is not None and self.accepted.status == Release.Status.WITHDRAWN

    @property
    def device_state(self) -> str:
        """ "current", "outdated" or "unknown" (the thing has not reported its firmware_sequence)."""
        if self.reported is None or self.newest is None:
            return "unknown"
        return "current" if int(self.reported.value) >= self.newest.sequence else "outdated"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.gtin if self.model else None,
            "accepted": _release(self.accepted),
            "newest": _release(self.newest),
            "update_available": self.update_available,
            "reported_sequence": int(self.reported.value) if self.reported else None,
            "device": self.device_state,
            "checks": [
                {
                    "version": c.version,
                    "sequence": c.sequence,
                    "outcome": c.outcome,
                    "reason": c.reason,
                    "message": c.message,
                    "at": c.created_at.isoformat(),
                }
                for c in self.checks
            ],
        }


def _release(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    out = {"version": release.version, "sequence": release.sequence, "size": release.size, "sha256": release.sha256}
    out["withdrawn"] = release.status == Release.Status.WITHDRAWN
    if out["withdrawn"]:
        out["withdrawal_reason"] = release.withdrawal_reason
        out["withdrawn_at"] = release.withdrawn_at.isoformat() if release.withdrawn_at else None
    return out


def twin_status(twin: Twin) -> TwinStatus:
    model = model_of(twin)
    if model is None:
        return TwinStatus(model=None)
    state = TwinFirmware.objects.filter(twin=twin).select_related("release").first()
    accepted = state.release if state and state.accepted_at else None
    return TwinStatus(
        model=model,
        accepted=accepted,
        accepted_sequence=state.sequence if state and state.accepted_at else None,
        newest=newest_published(model),
        reported=Reading.objects.filter(twin=twin, kind=READING_KIND).order_by("-time", "-id").first(),
        checks=list(UpdateCheck.objects.filter(twin=twin).order_by("-created_at", "-id")[:5]),
    )


def updates_available(twin_ids: list[int]) -> set[int]:
    """Of these twins, those whose model has a published release above what the twin accepted (three queries
    for a page of cards)."""
    produced = dict(ProducedThing.objects.filter(twin_id__in=twin_ids).values_list("twin_id", "model_id"))
    if not produced:
        return set()
    newest = dict(
        Release.objects.filter(model_id__in=set(produced.values()), status=Release.Status.PUBLISHED)
        .values("model_id")
        .annotate(top=Max("sequence"))
        .values_list("model_id", "top")
    )
    accepted = dict(
        TwinFirmware.objects.filter(twin_id__in=produced, accepted_at__isnull=False).values_list("twin_id", "sequence")
    )
    return {
        twin_id
        for twin_id, model_id in produced.items()
        if model_id in newest and newest[model_id] > accepted.get(twin_id, -1)
    }
