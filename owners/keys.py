"""Owners' update keys: creation at sign-up, sealing at rest, download, and registering a self-held key.

An owner has two active keys. `current` is listed in the `updateKeys` of the twins they own; `next` is
pre-committed through its hash in `nextKeyHashes` (did:webvh pre-rotation) and is the key that signs a
transfer. Both are platform-held (sealed under KEY_ENCRYPTION_KEY) unless the owner registered keys they hold
themselves; then the platform keeps only the public key and the next key's hash, and every rotation needs the
owner's own signature (`python -m ssi.sign`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.vault import seal_key, unseal_key
from owners.models import Owner, OwnerKey
from owners.signals import owner_key_registered
from ssi.errors import SSIError
from ssi.keys import SigningKey, VerifyKey
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


def owner_key_for_hash(*, owner: Owner, committed: tuple[str, ...]) -> OwnerKey | None:
    """The owner's key (active or retired) whose hash a twin's log committed to, if any."""
    return OwnerKey.objects.filter(owner=owner, next_key_hash__in=committed).order_by("-created_at").first()
