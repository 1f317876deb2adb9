"""The tags part of a moving twin (issue 18): its tags, their SUN keys and counters, and its scan log.

Tokens and short codes travel unchanged: they are printed on stickers and programmed into chips, which must keep
working (the source answers ``/t/<token>`` with a 308 to the same path here). SUN keys leave the source unsealed
inside the (encrypted) package and are sealed here under this instance's key, a pending replacement's previous keys
too; the read counter, the bound UID and whether the keys are known to a previous owner travel with them, so a tap
replayed from before the move is still a replay. The owner's NFC setting (genuine taps for readings) comes along.

A package comes from another instance, which may be hostile (issue 18's security review), so nothing about a key is
taken on its word: every key check value is computed here from the key it names (a stored KCV is what the startup
refusal of weak keys, SECURITY 18, and a tap's key-set pinning read), a weak key (all-zero, one repeated byte, a
published example, or one whose KCV is a weak key's) refuses the package as provisioning would refuse it, and tokens
and short codes must have the form tags.codes gives them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from datetime import datetime
from typing import Any

from django.db.models import Q

from core import vault
from tags import sun
from tags.codes import CROCKFORD, SHORT_CODE_LENGTH, format_short_code
from tags.models import NfcSetting, Scan, SunKeys, Tag
from twins import events
from twins.history import history_catch_up
from twins.models import Twin
from twins.portability import Arrival, PackageError, Part, register

log = logging.getLogger(__name__)

_SUN_KEYS = ("master_key", "meta_read_key", "file_read_key")
# A replacement's keys the chip still carries until it is programmed again (tags.nfc), null when none is pending.
_PREVIOUS_KEYS = ("previous_master_key", "previous_meta_read_key", "previous_file_read_key")
# Exported for the record, recomputed from the keys on restore (see the module docstring).
_KCVS = ("meta_read_kcv", "file_read_kcv", "previous_meta_read_kcv", "previous_file_read_kcv")
# Taken from the package as they are.
_SUN_FIELDS = (
    "uid",
    "last_counter",
    "known_to_previous_owner",
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
    data.update({name: getattr(keys, name) for name in (*_KCVS, *_SUN_FIELDS)})
    data.update(
        provisioned_at=_iso(keys.provisioned_at),
        last_tap_at=_iso(keys.last_tap_at),
        replaced_at=_iso(keys.replaced_at),
    )
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


_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # tags.codes.new_token: 32 random bytes, URL-safe base64, no padding
_CODE = re.compile(f"[{CROCKFORD}]{{{SHORT_CODE_LENGTH}}}")  # tags.codes.new_short_code


def _key(value: Any, code: str) -> bytes:
    """An AES-128 key from the package, refused when it is weak (SECURITY 18: provisioning never stores one)."""
    key = base64.b64decode(value, validate=True)
    if len(key) != sun.KEY_BYTES:
        raise PackageError(f"The NFC keys of tag {code} in the package are not AES-128 keys.")
    if sun.is_weak_key(key) or sun.key_check_value(key) in sun.WEAK_KEY_CHECK_VALUES:
        raise PackageError(
            f"Tag {code} in the package has an all-zero, factory or published example NFC key: its taps would prove "
            "nothing, and this instance does not store such keys. Provision the chip again before moving the thing."
        )
    return key


def _sun_keys(tag: Tag, sun_data: dict[str, Any]) -> SunKeys:
    code = tag.display_code
    current = [_key(sun_data[name], code) for name in _SUN_KEYS]
    given = [sun_data.get(name) for name in _PREVIOUS_KEYS]
    if any(given) and not all(given):
        raise PackageError(f"The previous NFC keys of tag {code} in the package are incomplete.")
    previous = [_key(value, code) for value in given] if all(given) else [None, None, None]
    replaced_at = _when(sun_data.get("replaced_at"))
    if previous[0] is not None and replaced_at is None:
        replaced_at = _when(sun_data["provisioned_at"])  # a package from before replaced_at travelled
    kcv = sun.key_check_value
    return SunKeys(
        tag=tag,
        **{name: vault.seal(key) for name, key in zip(_SUN_KEYS, current, strict=True)},
        **{name: vault.seal(key) if key else None for name, key in zip(_PREVIOUS_KEYS, previous, strict=True)},
        meta_read_kcv=kcv(current[1]),
        file_read_kcv=kcv(current[2]),
        previous_meta_read_kcv=kcv(previous[1]) if previous[1] else "",
        previous_file_read_kcv=kcv(previous[2]) if previous[2] else "",
        **{name: sun_data[name] for name in _SUN_FIELDS if name in sun_data},
        provisioned_at=_when(sun_data["provisioned_at"]),
        last_tap_at=_when(sun_data["last_tap_at"]),
        replaced_at=replaced_at if previous[0] is not None else None,
    )


def _refuse_taken(items: list[dict[str, Any]]) -> None:
    """Refuse tags this host already has, by token or by code, on whichever thing (review finding 15).

    Tokens and codes are printed on the thing, so anyone who has seen it knows them, and nothing in a package
    proves which twin a tag is on: the signed history's tag entries name the code, but they are signed by the
    twin's own agent key, which the host of a made-up twin holds (it signs whatever it likes, and a sale may redact
    them). So the rule is first come, never taken over: a tag here stays on its thing (live, moved away or
    deactivated; the copy a returning thing left here has given way already, twins.portability.give_way, so the
    thing's own tags come back), and a package that brings one is refused, naming it, so that its owner can ask
    this host's administrators about the thing that holds it (a squatter can block a real thing's arrival, never
    answer for a tag that is here)."""
    tokens = [item["token"] for item in items]
    codes = [item["code"] for item in items]
    if len(set(tokens)) != len(tokens) or len(set(codes)) != len(codes):
        raise PackageError("The package names one tag twice.")
    taken = list(Tag.objects.filter(Q(token__in=tokens) | Q(code__in=codes)).values_list("token", "code"))
    taken_tokens, taken_codes = {token for token, _ in taken}, {code for _, code in taken}
    # Named by the package's own codes only (what the sender printed), never the other tag's.
    named = sorted(
        format_short_code(item["code"])
        for item in items
        if item["token"] in taken_tokens or item["code"] in taken_codes
    )
    if named:
        log.warning("move package refused: its tag(s) %s are on another thing here", ", ".join(named))
        raise PackageError(
            f"Tag {', '.join(named)} of this thing is already on another thing on this instance, so the thing cannot "
            "arrive with it: a printed tag never moves from one thing to another here. If the tag is on your thing, "
            "ask this instance's administrators about the thing that holds it."
        )


def _restore(data: dict[str, Any], arrival: Arrival) -> None:
    items = data.get("tags") or []
    for item in items:
        if not isinstance(item["token"], str) or not _TOKEN.fullmatch(item["token"]):
            raise PackageError("A tag of this thing in the package has a token this instance never makes.")
        if not isinstance(item["code"], str) or not _CODE.fullmatch(item["code"]):
            raise PackageError("A tag of this thing in the package has a short code this instance never makes.")
        if item["status"] not in Tag.Status.values:
            raise PackageError("A tag of this thing in the package has an unknown status.")
    _refuse_taken(items)
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
        if item.get("sun"):
            _sun_keys(tag, item["sun"]).save(force_insert=True)
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
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise PackageError(f"The package's tags cannot be read here ({type(exc).__name__}).") from None


register(
    Part(
        name="tags",
        export=export,
        restore=restore,
        after=("twin",),
        replaces=("tags.Tag", "tags.NfcSetting", "tags.Scan"),
    )
)


def on_moved_away(event: events.TwinMovedAway) -> None:
    """TwinMovedAway, in the release's transaction: the old host forgets the NFC keys of the thing's tags. It only
    answers their taps with a 308 now (the new host checks them, with the keys that travelled); keys kept here could
    forge "genuine" taps for the thing on its new host to whoever later reads this database and its key."""
    SunKeys.objects.filter(tag__twin_id=event.twin_id).delete()


events.subscribe(events.TwinMovedAway, on_moved_away, in_transaction=True)
