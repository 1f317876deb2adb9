"""The tags part of a moving twin (issue 18): its tags, their SUN keys and counters, and its scan log.

Tokens and short codes travel unchanged: they are printed on stickers and programmed into chips, which must keep
working (the source answers ``/t/<token>`` with a 308 to the same path here). SUN keys leave the source unsealed
inside the (encrypted) package and are sealed here under this instance's key, a pending replacement's previous keys
too; the read counter, the bound UID and whether the keys are known to a previous owner travel with them, so a tap
replayed from before the move is still a replay. The owner's NFC setting (genuine taps for readings) comes along.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from core import vault
from tags.models import NfcSetting, Scan, SunKeys, Tag
from twins.history import history_catch_up
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register

_SUN_KEYS = ("master_key", "meta_read_key", "file_read_key")
# A replacement's keys the chip still carries until it is programmed again (tags.nfc), null when none is pending.
_PREVIOUS_KEYS = ("previous_master_key", "previous_meta_read_key", "previous_file_read_key")
_SUN_FIELDS = (
    "meta_read_kcv",
    "file_read_kcv",
    "uid",
    "last_counter",
    "known_to_previous_owner",
    "previous_meta_read_kcv",
    "previous_file_read_kcv",
    "previous_uid",
    "previous_last_counter",
    "previous_known_to_previous_owner",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _sun(keys: SunKeys) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: base64.b64encode(vault.unseal(getattr(keys, name))).decode() if getattr(keys, name) else None
        for name in (*_SUN_KEYS, *_PREVIOUS_KEYS)
    }
    data.update({name: getattr(keys, name) for name in _SUN_FIELDS})
    data.update(provisioned_at=_iso(keys.provisioned_at), last_tap_at=_iso(keys.last_tap_at))
    return data


def export(twin: Twin) -> dict[str, Any] | None:
    # Scans not yet in the signed history go into it first (the history part's export would do it after this one
    # ran, leaving the package's scans "pending" and the destination writing them into the history a second time).
    if twin.deactivated_at is None and Scan.objects.filter(twin=twin, in_history=False).exists():
        history_catch_up(twin=twin)
    tags = list(Tag.objects.filter(twin=twin).select_related("sun_keys").order_by("created_at", "id"))
    setting = NfcSetting.objects.filter(twin=twin).first()
    if not tags and setting is None:
        return None
    tokens = {tag.pk: tag.token for tag in tags}
    items = []
    for tag in tags:
        item: dict[str, Any] = {
            "token": tag.token,
            "code": tag.code,
            "status": tag.status,
            "label": tag.label,
            "batch": tag.batch,
            "created_at": _iso(tag.created_at),
            "retired_at": _iso(tag.retired_at),
            "sun": None,
        }
        try:
            item["sun"] = _sun(tag.sun_keys)
        except SunKeys.DoesNotExist:
            pass
        items.append(item)
    # Only scans of the twin's own tags: a scan hangs on its tag (a tag that went to another thing stays there).
    scans = [
        {
            "tag": tokens[row["tag_id"]],
            "time": _iso(row["time"]),
            "by_owner": row["by_owner"],
            "user_agent": row["user_agent"],
            "source": row["source"],
            "in_history": row["in_history"],
        }
        for row in Scan.objects.filter(twin=twin, tag_id__in=tokens)
        .order_by("time", "id")
        .values("tag_id", "time", "by_owner", "user_agent", "source", "in_history")
    ]
    return {
        "tags": items,
        "scans": scans,
        "nfc_setting": None if setting is None else {"genuine_tap_for_readings": setting.genuine_tap_for_readings},
    }


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    items = data.get("tags") or []
    tokens = [item["token"] for item in items]
    codes = [item["code"] for item in items]
    if Tag.objects.filter(token__in=tokens).exists() or Tag.objects.filter(code__in=codes).exists():
        # Never two tags on one printed URL: a tag of this twin already here would be another thing's.
        raise PackageError("A tag of this thing is already in use on this instance.")
    by_token: dict[str, Tag] = {}
    for item in items:
        tag = Tag.objects.create(
            twin=arrival.twin,
            token=item["token"],
            code=item["code"],
            status=item["status"],
            label=item["label"],
            batch=item["batch"],
            retired_at=_when(item["retired_at"]),
        )
        Tag.objects.filter(pk=tag.pk).update(created_at=_when(item["created_at"]))
        by_token[tag.token] = tag
        sun = item.get("sun")
        if sun:
            SunKeys.objects.create(
                tag=tag,
                **{name: vault.seal(base64.b64decode(sun[name])) for name in _SUN_KEYS},
                **{name: vault.seal(base64.b64decode(sun[name])) if sun.get(name) else None for name in _PREVIOUS_KEYS},
                **{name: sun[name] for name in _SUN_FIELDS if name in sun},
                provisioned_at=_when(sun["provisioned_at"]),
                last_tap_at=_when(sun["last_tap_at"]),
            )
    scans = []
    for row in data.get("scans") or []:
        tag = by_token.get(row["tag"])
        if tag is None:
            raise PackageError("A scan of this thing names a tag that is not in the package.")
        scans.append(
            Scan(
                tag=tag,
                twin=arrival.twin,
                time=_when(row["time"]),
                by_owner=row["by_owner"],
                user_agent=row["user_agent"],
                source=row["source"],
                in_history=row["in_history"],
            )
        )
    Scan.objects.bulk_create(scans, batch_size=1000)
    setting = data.get("nfc_setting")
    if setting:
        NfcSetting.objects.create(twin=arrival.twin, genuine_tap_for_readings=setting["genuine_tap_for_readings"])


def restore(data: dict[str, Any], arrival: Arrival) -> None:
    """Restore the part; data not in the form this module writes is refused in words (nothing is written: the
    whole restore rolls back), never a server error."""
    try:
        _restore(data, arrival)
    except PackageError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise PackageError(f"The package's tags cannot be read here ({type(exc).__name__}).") from None


register(Part(name="tags", export=export, restore=restore, after=("twin",)))
