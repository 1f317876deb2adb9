"""Firmware writes: a model's signing policy, publishing and co-signing a release, a twin accepting an update.

Every check of a manifest is ssi.firmware.verify, the same code a device runs offline (`python -m ssi.firmware
verify`). A payload is hashed chunk by chunk as it is read (never whole in memory) and compared with the
manifest **before** it is stored (SECURITY 36): a mismatch answers 400 with the reason and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict
from firmware.models import FirmwarePolicy, Release, TwinFirmware, UpdateCheck
from makers.access import NotAllowed, membership_of
from makers.models import Membership, ProducedThing, ProductModel
from makers.orgs import log_state
from owners.keys import SelfHeldKeyRequired, owner_keys_ensure, owner_signing_key
from owners.models import Notification, Owner, OwnerKey
from owners.services import notify
from ssi import firmware as fw
from ssi import proofs
from ssi.errors import SSIError
from ssi.keys import SigningKey
from twins.history import history_append
from twins.models import Twin

logger = logging.getLogger(__name__)

HISTORY_KIND = "firmware"
# What a device reports with a reading of this kind: the sequence of the manifest it runs (a number, as every
# reading's value is; the version string is in the manifest that sequence names).
READING_KIND = "firmware_sequence"


class FirmwareRefused(Conflict):
    """A write refused with a message a person can act on (400 unless it names another status); `reason` is
    ssi.firmware's when a check failed, and travels in `extra` too. A core.errors.Conflict, so the API's exception
    handler and the middleware answer it with its status and message; the pages catch it to show it on the form."""

    status = 400

    def __init__(
        self, message: str, *, status: int | None = None, reason: str = "", extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, status=status, extra={**(extra or {}), **({"reason": reason} if reason else {})})
        self.reason = reason


def _refused(exc: fw.Refused) -> FirmwareRefused:
    status = 409 if exc.reason is fw.Reason.ROLLBACK else 400
    return FirmwareRefused(f"Refused ({exc.reason}): {exc.message}", status=status, reason=str(exc.reason))


# --- Policy --------------------------------------------------------------------------------------------------


def policy_of(model: ProductModel) -> fw.Policy:
    row = FirmwarePolicy.objects.filter(model=model).first()
    if row is None or not row.critical:
        return fw.Policy(officers=tuple(row.officers) if row else ())
    return fw.Policy(threshold=row.threshold, officers=tuple(row.officers))


def _require_member(
    model: ProductModel, by: Owner, *, admin: bool = False, what: str = "change the signing policy"
) -> None:
    organisation = model.organisation
    if by.pk == organisation.account_id:  # an organisation token acts as the account (an admin made it)
        return
    membership = membership_of(by, organisation)
    if membership is None:
        raise NotAllowed("Only members of the organisation can do this.")
    if admin and membership.role != Membership.Role.ADMIN:
        raise NotAllowed(f"Only an admin of the organisation can {what}.")


@transaction.atomic
def policy_set(
    *,
    model: ProductModel,
    by: Owner,
    critical: bool,
    threshold: int,
    officers: Iterable[str],
    reattest: bool = False,
) -> FirmwarePolicy:
    """Set a model's signing rule (admins). A critical model needs `threshold` (1 or more) of the listed officer
    keys; a model that is not critical needs the maker's key alone (the list is kept for later)."""
    _require_member(model, by, admin=True)
    keys = [k.strip() for k in officers if k and k.strip()]
    if len(set(keys)) != len(keys):
        raise FirmwareRefused("Each officer key may be listed once.")
    if makers := set(keys) & fw.maker_keys_now(log_state(model.organisation)):
        raise FirmwareRefused(
            f"{', '.join(sorted(makers))} is the organisation's own key, with which this platform signs every"
            " release: a release officer must hold a key of their own."
        )
    if critical and threshold < 1:
        raise FirmwareRefused("A critical model needs at least one release officer's signature (threshold ≥ 1).")
    try:
        fw.Policy(threshold=threshold if critical else 0, officers=tuple(keys))
    except SSIError as exc:
        raise FirmwareRefused(f"The policy cannot be used: {exc}") from None
    row, _ = FirmwarePolicy.objects.update_or_create(
        model=model,
        defaults={
            "critical": critical,
            "threshold": threshold if critical else 0,
            "officers": keys,
            "reattest": reattest,
        },
    )
    return row


# --- Publishing ----------------------------------------------------------------------------------------------


def payload_digest(upload: UploadedFile) -> fw.Digest:
    """SHA-256 and size of an upload, read chunk by chunk (a large upload is a temporary file on disk)."""
    hasher = fw.Hasher()
    for chunk in upload.chunks():
        hasher.update(chunk)
    upload.seek(0)
    return hasher.digest()


def stored_digest(release: Release) -> fw.Digest:
    hasher = fw.Hasher()
    with release.payload.open("rb") as f:
        while chunk := f.read(fw.CHUNK):
            hasher.update(chunk)
    return hasher.digest()


def organisation_signer(model: ProductModel) -> SigningKey:
    """The organisation's current (platform-held) key: the one its DID log lists in updateKeys now."""
    keys = owner_keys_ensure(owner=model.organisation.account)
    try:
        return owner_signing_key(keys[OwnerKey.Role.CURRENT])
    except SelfHeldKeyRequired:
        raise Conflict(
            "The organisation's key is not held by the platform: sign the manifest offline (python -m ssi.firmware "
            "sign) and upload it with the payload."
        ) from None


def _officers_signed(manifest: dict[str, Any], model: ProductModel, policy: fw.Policy) -> int:
    accepted = fw.verify(
        manifest,
        None,
        maker=log_state(model.organisation),
        class_id=model.gtin,
        last_sequence=None,
        policy=fw.Policy(officers=policy.officers),
    )
    return len(accepted.officer_keys)


def _last_sequence(model: ProductModel) -> int | None:
    return Release.objects.filter(model=model).aggregate(m=Max("sequence"))["m"]


@transaction.atomic
def release_publish(
    *,
    model: ProductModel,
    by: Owner,
    upload: UploadedFile,
    version: str = "",
    sequence: int | None = None,
    manifest: dict[str, Any] | None = None,
    notes: str = "",
) -> Release:
    """Store a release of `model`: the payload and its manifest.

    Without `manifest` the platform builds it (the next sequence unless one is given) and signs it with the
    organisation's current key. With `manifest` (signed offline, maybe by release officers too) it must pass
    every check but the officer count against the organisation's DID log now, and name this payload. A critical
    model's release waits for co-signatures until `threshold` officers signed. Nothing is stored on a refusal.
    """
    _require_member(model, by)
    organisation = model.organisation
    if not organisation.did:
        raise FirmwareRefused("The organisation has no DID yet, so nothing can be signed for it.", status=409)
    limit = settings.FIRMWARE_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise FirmwareRefused(f"The payload is {upload.size} bytes; firmware here is at most {limit}.", status=413)
    digest = payload_digest(upload)  # before anything is stored (SECURITY 36)
    if digest.size == 0:
        raise FirmwareRefused("The payload is empty.")
    # One publisher per model at a time: sequences are compared and assigned under this lock.
    ProductModel.objects.select_for_update().filter(pk=model.pk).values_list("pk").first()
    last = _last_sequence(model)
    policy = policy_of(model)
    if manifest is not None:
        try:
            fw.verify(
                manifest,
                digest,
                maker=log_state(organisation),
                class_id=model.gtin,
                last_sequence=last,
                policy=fw.Policy(officers=policy.officers),
            )
        except fw.Refused as exc:
            raise _refused(exc) from None
        signed = dict(manifest)
    else:
        seq = sequence if sequence is not None else (last or 0) + 1
        if last is not None and seq <= last:
            raise FirmwareRefused(
                f"Sequence {seq} is not above the model's last release ({last}): sequences only grow.",
                status=409,
                reason=str(fw.Reason.ROLLBACK),
            )
        try:
            unsigned = fw.build(
                vendor_id=organisation.did,
                class_id=model.gtin,
                version=version.strip(),
                sequence=seq,
                payload=digest,
                payload_ref=upload.name or "firmware.bin",
            )
        except fw.Refused as exc:
            raise FirmwareRefused(f"The release cannot be made: {exc.message}") from None
        signed = fw.sign(unsigned, organisation_signer(model))
    if Release.objects.filter(model=model, version=signed["version"]).exists():
        raise FirmwareRefused(f"Version {signed['version']} of this model was released already.", status=409)
    officers = _officers_signed(signed, model, policy)
    ready = officers >= policy.threshold
    release = Release(
        model=model,
        version=signed["version"],
        sequence=signed["sequence"],
        size=digest.size,
        sha256=digest.sha256,
        manifest=signed,
        status=Release.Status.PUBLISHED if ready else Release.Status.AWAITING,
        published_at=timezone.now() if ready else None,
        notes=notes,
        created_by=by if by.pk != organisation.account_id else None,
    )
    release.payload.save(f"{model.gtin}-{signed['sequence']}.bin", upload, save=False)
    name = release.payload.name
    try:
        with transaction.atomic():
            release.save()
    except IntegrityError:
        release.payload.storage.delete(name)
        raise FirmwareRefused("Another release took this sequence or version just now.", status=409) from None
    if ready:
        _announce_after_commit(release)
    return release


@transaction.atomic
def release_cosign(*, release: Release, by: Owner, signed: Any) -> Release:
    """Add the co-signatures in `signed` (the release's manifest with more proofs, as `python -m ssi.firmware sign
    --manifest` prints it). Each new proof must verify and be by a listed officer or the maker; the release is
    published once `threshold` officers signed."""
    model = release.model
    _require_member(model, by)
    release = Release.objects.select_for_update().get(pk=release.pk)
    if release.status == Release.Status.WITHDRAWN:
        raise FirmwareRefused("This release was withdrawn: it cannot be signed any more.", status=409, reason=WITHDRAWN)
    if not isinstance(signed, dict):
        raise FirmwareRefused("Send the manifest (a JSON object) with your signature added.")
    unsecured = {k: v for k, v in release.manifest.items() if k != "proof"}
    if {k: v for k, v in signed.items() if k != "proof"} != unsecured:
        raise FirmwareRefused("This is not this release's manifest: sign the manifest the release page offers.")
    have = {json.dumps(p, sort_keys=True) for p in fw.proof_list(release.manifest)}
    new = [p for p in fw.proof_list(signed) if json.dumps(p, sort_keys=True) not in have]
    if not new:
        raise FirmwareRefused("The manifest carries no new signature.")
    merged = {**unsecured, "proof": [*fw.proof_list(release.manifest), *new]}
    policy = policy_of(model)
    try:
        officers = _officers_signed(merged, model, policy)
    except fw.Refused as exc:
        raise _refused(exc) from None
    release.manifest = merged
    fields = ["manifest"]
    if release.status == Release.Status.AWAITING and officers >= policy.threshold:
        release.status = Release.Status.PUBLISHED
        release.published_at = timezone.now()
        fields += ["status", "published_at"]
        _announce_after_commit(release)
    release.save(update_fields=fields)
    return release


def _announce_after_commit(release: Release) -> None:
    release_id = release.pk
    # After commit: a release rolled back must not be announced; the task row is transactional with it.
    transaction.on_commit(lambda: release_announce_task.enqueue(release_id))


@transaction.atomic
def release_announce(release_id: int) -> int:
    """Tell each owner of a thing of the release's model (not the maker's unclaimed stock) that an update is
    available, once per release (the row is locked and marked). Returns how many were told."""
    release = Release.objects.select_for_update().select_related("model__organisation").filter(pk=release_id).first()
    if release is None or release.announced_at is not None or release.status != Release.Status.PUBLISHED:
        return 0
    model = release.model
    twins = (
        Twin.objects.live()  # a moved thing is told by its new host (issue 18), if at all
        .filter(produced__model=model, deactivated_at__isnull=True)
        .exclude(owner_id=model.organisation.account_id)
        .select_related("owner")
        .order_by("pk")
    )
    return _tell_owners(
        release,
        twins,
        marker="announced_at",
        title="Firmware {version} is available for {thing}",
        body=f"{model.organisation.name} published {model.name} firmware {release.version}. Check and accept it "
        "on the thing's page; it is verified against the maker's DID log before your thing is offered it.",
        action_label="See the update",
    )


def _tell_owners(release: Release, twins, *, marker: str, title: str, body: str, action_label: str) -> int:
    """An inbox item for the owner of each of `twins` about `release` (`title` names {version} and {thing}), then
    the release's `marker` time set, in the caller's transaction (which holds the release's row): once per release.
    Returns how many were told."""
    organisation = release.model.organisation
    told = 0
    for twin in twins.iterator(chunk_size=500):
        notify(
            owner=twin.owner,
            kind=Notification.Kind.SYSTEM,
            title=title.format(version=release.version, thing=twin.name)[:200],
            body=body,
            twin=twin,
            sender_name=organisation.name[:100],
            action_url=reverse("thing", args=[twin.slug]),
            action_label=action_label,
        )
        told += 1
    setattr(release, marker, timezone.now())
    release.save(update_fields=[marker])
    return told


@task()
def release_announce_task(release_id: int) -> int:
    """The worker's entry point (enqueued when a release is published; safe to run again)."""
    return release_announce(release_id)


# --- Withdrawing ---------------------------------------------------------------------------------------------

WITHDRAWN = "withdrawn"  # the reason an update check names when the release was withdrawn
MAX_REASON = 500


def withdrawn_message(release: Release) -> str:
    when = release.withdrawn_at.strftime("%Y-%m-%d %H:%M UTC") if release.withdrawn_at else "earlier"
    return f"The maker withdrew {release.version} on {when}: {release.withdrawal_reason}"[:MAX_REASON]


@transaction.atomic
def release_withdraw(*, release: Release, by: Owner, reason: str) -> Release:
    """Pull `release` (organisation admins): it is never offered, accepted or served to devices again, and the
    owners of things that run it (their twin's accepted release is this one) are told once, after commit.

    Idempotent: withdrawing a withdrawn release changes nothing (the first reason stays). A release still waiting
    for co-signatures may be withdrawn too: that cancels it (nobody was offered it, so nobody is told). Its
    sequence stays used either way: the next release must still be higher (rollback protection)."""
    _require_member(release.model, by, admin=True, what="withdraw a release")
    reason = " ".join((reason or "").split())
    if not reason:
        raise FirmwareRefused("Say why the release is withdrawn: owners of things that run it are told.")
    if len(reason) > MAX_REASON:
        raise FirmwareRefused(f"Keep the reason to {MAX_REASON} characters; it is {len(reason)}.")
    release = Release.objects.select_for_update().select_related("model__organisation").get(pk=release.pk)
    if release.status == Release.Status.WITHDRAWN:
        return release
    offered = release.status == Release.Status.PUBLISHED
    release.status = Release.Status.WITHDRAWN
    release.withdrawn_at = timezone.now()
    release.withdrawn_by = by if by.pk != release.model.organisation.account_id else None
    release.withdrawal_reason = reason
    release.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    logger.info("firmware withdrawn: release %s of model %s", release.pk, release.model_id)
    if offered:
        release_id = release.pk
        transaction.on_commit(lambda: withdrawal_announce_task.enqueue(release_id))
    return release


@transaction.atomic
def withdrawal_announce(release_id: int) -> int:
    """Tell the owner of each thing whose accepted release is this withdrawn one, once per release (the row is
    locked and marked). Returns how many were told."""
    release = Release.objects.select_for_update().select_related("model__organisation").filter(pk=release_id).first()
    if release is None or release.withdrawal_told_at is not None or release.status != Release.Status.WITHDRAWN:
        return 0
    model = release.model
    twins = (
        Twin.objects.live()  # as release_announce
        .filter(firmware__release=release, firmware__accepted_at__isnull=False, deactivated_at__isnull=True)
        .exclude(owner_id=model.organisation.account_id)
        .select_related("owner")
        .order_by("pk")
    )
    return _tell_owners(
        release,
        twins,
        marker="withdrawal_told_at",
        title="Firmware {version} for {thing} was withdrawn",
        body=f"{model.organisation.name} withdrew {model.name} firmware {release.version}, which your thing "
        f"accepted. Their reason: {release.withdrawal_reason} Your thing's device is no longer served it; "
        "a later release will be offered on the thing's page when the maker publishes one.",
        action_label="See the thing",
    )


@task()
def withdrawal_announce_task(release_id: int) -> int:
    """The worker's entry point (enqueued when a published release is withdrawn; safe to run again)."""
    return withdrawal_announce(release_id)


# --- What devices get ----------------------------------------------------------------------------------------


def device_manifest(release: Release) -> dict[str, Any]:
    """The manifest as served: the stored one, re-attested by the organisation's current key when the key that
    signed it has been rotated out and the model's policy asks for it (docs/firmware.md, "Releases made before a
    rotation"). Officers' proofs stay.
    Nothing is written: the proof is made per answer (signing is cheap, and deterministic for one key)."""
    model = release.model
    organisation = model.organisation
    maker = log_state(organisation)
    now = fw.maker_keys_now(maker)
    officers = set(policy_of(model).officers)
    signers = set()
    for proof in fw.proof_list(release.manifest):
        try:
            signers.add(proofs.proof_key(proof).multibase)
        except SSIError:
            continue
    if signers & now:
        stale = signers - now - officers
        return fw.without_proofs_by(release.manifest, stale) if stale else release.manifest
    row = FirmwarePolicy.objects.filter(model=model).first()
    if row is None or not row.reattest:
        return release.manifest  # the maker did not ask for it: refused everywhere, as SECURITY 34 says
    key = OwnerKey.objects.filter(
        owner=organisation.account, role=OwnerKey.Role.CURRENT, retired_at__isnull=True
    ).first()
    if key is None or key.public_multibase not in now:
        return release.manifest  # nothing the platform may add: a device refuses it, as it should
    try:
        signer = owner_signing_key(key)
    except SelfHeldKeyRequired:
        return release.manifest
    kept = fw.without_proofs_by(release.manifest, signers - officers)
    # Dated at the log entry that made the key current: the same proof on every answer, so the ETag holds.
    return fw.sign(kept, signer, created=maker.version_time)


def etag_of(content: bytes | str) -> str:
    data = content.encode() if isinstance(content, str) else content
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


# --- Twins ---------------------------------------------------------------------------------------------------


def model_of(twin: Twin) -> ProductModel | None:
    produced = ProducedThing.objects.select_related("model__organisation__account").filter(twin=twin).first()
    return produced.model if produced else None


def accepted_sequence(twin: Twin) -> int | None:
    row = TwinFirmware.objects.filter(twin=twin).first()
    return row.sequence if row and row.accepted_at else None


@transaction.atomic
def update_accept(*, twin: Twin, release: Release, by: Owner | None) -> UpdateCheck:
    """The twin's check of `release` (ssi.firmware.verify: the maker's key now, no rollback, maker and model,
    officers, the stored payload's hash and size). Accepted: the twin's firmware moves on and its history
    records it. Refused: the decision is kept with the reason (the owner sees it) and nothing else changes."""
    state, _ = TwinFirmware.objects.get_or_create(twin=twin)
    state = TwinFirmware.objects.select_for_update().get(pk=state.pk)
    model = model_of(twin)
    if model is None:
        raise FirmwareRefused("This thing has no maker's model, so no firmware is offered for it.", status=409)
    # Its status as it is now (the caller's row may predate a withdrawal made since).
    release.refresh_from_db(fields=["status", "withdrawn_at", "withdrawal_reason"])
    check = UpdateCheck(twin=twin, release=release, version=release.version, sequence=release.sequence, by=by)
    if release.status == Release.Status.WITHDRAWN:
        # Kept like every refusal, so the owner sees why on the thing's page.
        check.outcome, check.reason = UpdateCheck.Outcome.REFUSED, WITHDRAWN
        check.message = withdrawn_message(release)
        check.save()
        return check
    if release.status != Release.Status.PUBLISHED:
        raise FirmwareRefused("This release is waiting for its release officers' signatures.", status=409)
    manifest = device_manifest(release)
    last = state.sequence if state.accepted_at else None
    try:
        fw.verify(
            manifest,
            stored_digest(release),
            maker=log_state(release.model.organisation),
            class_id=model.gtin,
            last_sequence=last,
            policy=policy_of(release.model),
        )
    except fw.Refused as exc:
        check.outcome, check.reason, check.message = UpdateCheck.Outcome.REFUSED, str(exc.reason), exc.message[:500]
        check.save()
        logger.warning("firmware refused: twin %s release %s: %s", twin.pk, release.pk, exc.line())
        return check
    except FileNotFoundError:
        check.outcome, check.reason = UpdateCheck.Outcome.REFUSED, str(fw.Reason.SIZE_MISMATCH)
        check.message = "The payload is missing from storage."
        check.save()
        return check
    check.outcome = UpdateCheck.Outcome.ACCEPTED
    check.save()
    state.release, state.sequence, state.accepted_at = release, release.sequence, timezone.now()
    state.save(update_fields=["release", "sequence", "accepted_at"])
    history_append(
        twin=twin,
        kind=HISTORY_KIND,
        content={
            "version": release.version,
            "sequence": release.sequence,
            "sha256": release.sha256,
            "size": release.size,
            "vendor_id": manifest["vendor_id"],
            "class_id": manifest["class_id"],
        },
        ref_id=check.pk,
    )
    return check
