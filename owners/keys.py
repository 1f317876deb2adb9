"""Owners' update keys: creation at sign-up, sealing at rest, download, and registering a self-held key.

An owner has two active root keys, `current` and `next`. A twin's DID log does not name them: it names the
owner's per-thing keys, derived from them and the twin's DID path (ssi.thing_keys, HKDF-SHA256), so two things of
one owner share no key in their public logs (review finding 5). `updateKeys` holds the key derived from
`current`; `nextKeyHashes` the hash of the one derived from `next`, which signs a transfer. Both roots are
platform-held (sealed under KEY_ENCRYPTION_KEY) unless the owner registered keys they hold themselves; then the
platform keeps only the public key and the next key's hash, cannot derive, and every rotation needs the owner's
own signature (`python -m ssi.sign thingkey` derives the per-thing key, `sign` signs with it).

Twins incepted before per-thing keys name the shared root keys; they still work (owner_log_signer finds either)
and move to per-thing keys at their next rotation (transfer, move) or with `manage.py twins_thing_keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.vault import seal_key, unseal_key
from owners.models import Owner, OwnerKey
from owners.signals import owner_key_registered
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey
from ssi.thing_keys import thing_key
from ssi.webvh import next_key_hash


class SelfHeldKeyRequired(Exception):
    """The operation needs a signature that only the owner can make."""


def _new_platform_key(owner: Owner, role: str) -> OwnerKey:
    key = SigningKey.generate()
    return OwnerKey.objects.create(
        owner=owner,
        role=role,
        public_multibase=key.multibase,
        next_key_hash=next_key_hash(key.multibase),
        sealed_seed=seal_key(key),
    )


@transaction.atomic
def owner_keys_ensure(*, owner: Owner) -> dict[str, OwnerKey]:
    """The owner's active keys, the missing ones created (a new account, see keys_for_new_owner)."""
    # Lock the owner row: two first uses at once must not both create keys (the constraint would refuse one).
    Owner.objects.select_for_update().filter(pk=owner.pk).values_list("pk").first()
    keys = {key.role: key for key in OwnerKey.objects.filter(owner=owner, retired_at__isnull=True)}
    for role in (OwnerKey.Role.CURRENT, OwnerKey.Role.NEXT):
        if role not in keys:
            keys[role] = _new_platform_key(owner, role)
    return keys


def keys_for_new_owner(sender: type[Owner], instance: Owner, created: bool, raw: bool, **kwargs) -> None:
    """post_save receiver (connected in OwnersConfig.ready): every new account gets its keys as it is created
    (in the same transaction when the caller has one, as owner_signup does), whichever way it was made: sign-up,
    the admin, createsuperuser, a script or a test's factory.

    Chosen over creating them on first use, which is what a GET of the keys page or of a buyer's offer page did:
    those pages show the keys (the offer page has the buyer sign a document naming them), so "first use" was a
    read that wrote. Rows loaded from a fixture (`raw`) bring their own keys.
    """
    if created and not raw:
        owner_keys_ensure(owner=instance)


def owner_signing_key(key: OwnerKey) -> SigningKey:
    """Unseal a platform-held key. Raises SelfHeldKeyRequired for a key the owner holds."""
    if key.self_held or key.sealed_seed is None:
        raise SelfHeldKeyRequired("This key is held by its owner; sign with python -m ssi.sign.")
    return unseal_key(key.sealed_seed)


def owner_private_key_export(*, owner: Owner, role: str = OwnerKey.Role.CURRENT) -> str:
    """The private key file content (`python -m ssi.sign` format) of a platform-held key."""
    key = owner_keys_ensure(owner=owner)[role]
    return owner_signing_key(key).private_multibase() + "\n"


@transaction.atomic
def owner_register_self_held(*, owner: Owner, public_key: str, next_hash: str) -> dict[str, OwnerKey]:
    """Replace the platform-held keys by keys the owner holds: the current public key and the next key's hash.

    Twins the owner already has keep committing to the old next key until their next rotation, which the
    platform can still sign; new twins name the self-held keys.
    """
    try:
        VerifyKey.from_multibase(public_key.strip())
    except SSIError:
        raise ValidationError({"public_key": "This is not an Ed25519 public key (z6Mk…)."}) from None
    next_hash = next_hash.strip()
    if not next_hash.startswith("Qm") or len(next_hash) != 46:
        raise ValidationError({"next_key_hash": "This is not a key hash (python -m ssi.sign nexthash KEYFILE)."})
    if next_hash == next_key_hash(public_key.strip()):
        raise ValidationError({"next_key_hash": "The next key must be a different key from the current one."})
    now = timezone.now()
    OwnerKey.objects.filter(owner=owner, retired_at__isnull=True).update(retired_at=now)
    current = OwnerKey.objects.create(
        owner=owner,
        role=OwnerKey.Role.CURRENT,
        public_multibase=public_key.strip(),
        next_key_hash=next_key_hash(public_key.strip()),
        self_held=True,
    )
    upcoming = OwnerKey.objects.create(owner=owner, role=OwnerKey.Role.NEXT, next_key_hash=next_hash, self_held=True)
    # The owner's holder DID changed: credentials re-issue what they hold to it, in this transaction.
    owner_key_registered.send(sender=Owner, owner=owner)
    return {OwnerKey.Role.CURRENT: current, OwnerKey.Role.NEXT: upcoming}


@dataclass(frozen=True)
class ThingKeys:
    """The keys one thing's log names for its owner: `updateKeys` and the pre-rotation `nextKeyHashes` entry."""

    update_key: str
    next_key_hash: str


def thing_keys(keys: Mapping[str, OwnerKey], did: str) -> ThingKeys:
    """The owner's keys for the thing `did` (any DID it has had), from the owner's active root keys `keys` (by role).

    Platform-held roots: the per-thing keys (ssi.thing_keys). Self-held roots: the roots themselves, since the
    platform cannot derive from a public key; a self-held owner names per-thing keys in what they sign instead
    (a transfer's acceptance, twins.transfer). Read only."""
    current, upcoming = keys[OwnerKey.Role.CURRENT], keys[OwnerKey.Role.NEXT]
    if current.self_held or upcoming.self_held:
        return ThingKeys(update_key=current.public_multibase, next_key_hash=upcoming.next_key_hash)
    mine = thing_key(owner_signing_key(current), did)
    following = thing_key(owner_signing_key(upcoming), did)
    return ThingKeys(update_key=mine.multibase, next_key_hash=next_key_hash(following.multibase))


def thing_signing_key(key: OwnerKey, did: str) -> SigningKey:
    """The owner's per-thing private key for `did` derived from the platform-held root `key`.
    Raises SelfHeldKeyRequired for a self-held root."""
    return thing_key(owner_signing_key(key), did)


def owner_log_signer(*, owner: Owner, did: str, committed: tuple[str, ...]) -> SigningKey | None:
    """The owner's key that a twin's log pre-committed to (`committed`: its `nextKeyHashes`), which signs the
    twin's next rotation: a per-thing key derived from one of the owner's platform-held roots (active or retired:
    a twin keeps the commitment made when it was last rotated), or, for a twin incepted before per-thing keys, the
    shared root itself. None when no key of the owner's is committed to.

    Raises SelfHeldKeyRequired when the commitment is to a self-held key, or when the owner's keys are now
    self-held and nothing here matches: the platform cannot tell a self-held per-thing key from a stranger's, and
    leaves that to the log, which accepts only the committed key's signature."""
    wanted = set(committed)
    if not wanted:
        return None
    rows = list(OwnerKey.objects.filter(owner=owner).order_by("-created_at"))
    for key in rows:
        if key.next_key_hash in wanted:  # a shared root (older twins), or a self-held next key
            return owner_signing_key(key)
    for key in rows:
        if not key.self_held and key.sealed_seed is not None:
            derived = thing_signing_key(key, did)
            if next_key_hash(derived.multibase) in wanted:
                return derived
    if any(key.self_held and key.retired_at is None for key in rows):
        raise SelfHeldKeyRequired("This key is held by its owner; sign with python -m ssi.sign.")
    return None


def owner_holds_update_key(*, owner: Owner, did: str, update_keys: tuple[str, ...]) -> bool:
    """Does one of `update_keys` (a twin's log) belong to `owner`: their per-thing key for `did`, or a root
    (shared: twins incepted before per-thing keys, or a self-held owner's)?"""
    wanted = set(update_keys)
    if not wanted:
        return False
    rows = list(OwnerKey.objects.filter(owner=owner))
    if any(key.public_multibase in wanted for key in rows if key.public_multibase):
        return True
    return any(thing_signing_key(key, did).multibase in wanted for key in rows if not key.self_held and key.sealed_seed)
