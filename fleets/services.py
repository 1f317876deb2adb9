"""Writes on groups: create, rename, move, delete, and who is in them. Every write checks that the things are the
group owner's own; a refusal is a django ValidationError with words a person can act on."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from core.validators import MESSAGE as UNSTORABLE_MESSAGE
from core.validators import is_storable_text
from fleets.models import Group, Membership
from twins import events, leaving
from twins.models import Twin

NAME_MAX = 80
DESCRIPTION_MAX = 2000
PATH_SEPARATOR = " / "
NOT_YOURS = "Only your own things can be in your groups."


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the group a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"A group's name is at most {NAME_MAX} characters."})
    if "/" in name:
        # "/" separates a site from a room in an import's group column; a name holding one could not be read back.
        raise ValidationError({"name": "A group's name cannot contain “/” (it separates a site from a room)."})
    return name


def _check_parent(*, owner, parent: Group | None, group: Group | None = None) -> None:
    if parent is None:
        return
    if parent.owner_id != owner.pk:
        raise ValidationError({"parent": "No such group among yours: pick one of your groups."})
    if parent.parent_id is not None:
        raise ValidationError(
            {"parent": f"“{parent.name}” is already inside “{parent.parent.name}”: groups nest one level only."}
        )
    if group is not None:
        if parent.pk == group.pk:
            raise ValidationError({"parent": "A group cannot be inside itself."})
        if group.children.exists():
            raise ValidationError(
                {"parent": f"“{group.name}” has groups inside it: groups nest one level only. Move those out first."}
            )


def _save(group: Group) -> Group:
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        where = f" in “{group.parent.name}”" if group.parent_id else ""
        message = f"You already have a group called “{group.name}”{where}."
        if group.pk:
            # The caller's object goes back to what is stored, not the refused change.
            group.refresh_from_db()
        raise ValidationError({"name": message}) from None
    return group


def _lock(parent: Group | None) -> None:
    """Lock the parent's row and re-read where it is: a room created while its site is being moved inside another
    group would otherwise make two levels (group_move locks the same rows)."""
    if parent is not None:
        parent.parent_id = Group.objects.select_for_update().values_list("parent_id", flat=True).get(pk=parent.pk)


@transaction.atomic
def group_create(*, owner, name: str, parent: Group | None = None, description: str = "") -> Group:
    name = _clean_name(name)
    _lock(parent)
    _check_parent(owner=owner, parent=parent)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError({"description": f"At most {DESCRIPTION_MAX} characters."})
    return _save(Group(owner=owner, name=name, parent=parent, description=description))


def group_update(*, group: Group, name: str | None = None, description: str | None = None) -> Group:
    """Rename a group or change its description."""
    if name is not None:
        group.name = _clean_name(name)
    if description is not None:
        description = description.strip()
        if len(description) > DESCRIPTION_MAX:
            raise ValidationError({"description": f"At most {DESCRIPTION_MAX} characters."})
        group.description = description
    return _save(group)


def group_rename(*, group: Group, name: str) -> Group:
    return group_update(group=group, name=name)


@transaction.atomic
def group_move(*, group: Group, parent: Group | None) -> Group:
    """Put a group inside `parent` (one of the owner's top-level groups), or at the top level with None."""
    # Lock both rows: two moves at once (A into B, B into A), or a room created in A while A moves into B, would
    # otherwise both pass the one-level check.
    # In id order, so two moves never wait for each other's second row (a deadlock PostgreSQL would break by
    # failing one of them with an error instead of the words below).
    ids = sorted({group.pk, *([parent.pk] if parent is not None else [])})
    rows = dict(Group.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "parent_id"))
    if parent is not None:
        parent.parent_id = rows[parent.pk]
    _check_parent(owner=group.owner, parent=parent, group=group)
    group.parent = parent
    return _save(group)


@transaction.atomic
def group_delete(*, group: Group) -> None:
    """The grouping goes; its things stay (they only leave this group). Groups inside it move to the top level."""
    children = list(group.children.all())
    taken = {
        name.lower()
        for name in Group.objects.filter(owner_id=group.owner_id, parent__isnull=True)
        .exclude(pk=group.pk)
        .values_list("name", flat=True)
    }
    clash = [child.name for child in children if child.name.lower() in taken]
    if clash:
        raise ValidationError(
            f"“{clash[0]}” inside “{group.name}” would move to the top level, where you already have a group "
            f"of that name: rename one of them first."
        )
    group.children.update(parent=None)
    group.delete()


# --- Members --------------------------------------------------------------------------------------------------------


def _twin_ids(twins: Iterable[Twin] | Iterable[int]) -> list[int]:
    return list(dict.fromkeys(getattr(twin, "pk", twin) for twin in twins))


@transaction.atomic
def members_add(*, group: Group, twins: Iterable[Twin] | Iterable[int]) -> int:
    """Add the things (twins or their ids) to the group; already-members are skipped. Returns how many joined.

    All or nothing: a thing that is not the group owner's (or does not exist) refuses the whole call."""
    ids = _twin_ids(twins)
    if not ids:
        return 0
    owned = set(Twin.objects.filter(pk__in=ids, owner_id=group.owner_id).values_list("pk", flat=True))
    if len(owned) != len(ids):
        raise ValidationError({"things": NOT_YOURS})
    leaving.refuse_if_any_leaving(ids)  # a group travels with a thing that moves (issue 18)
    have = set(Membership.objects.filter(group=group, twin_id__in=ids).values_list("twin_id", flat=True))
    new = [Membership(group=group, twin_id=pk) for pk in ids if pk not in have]
    # ignore_conflicts: a concurrent add of the same thing is the constraint's to settle, not an error.
    Membership.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return len(new)


@transaction.atomic
def members_remove(*, group: Group, twins: Iterable[Twin] | Iterable[int]) -> int:
    """Take the things out of the group (they stay the owner's things). Returns how many left; a thing that was
    not in the group is skipped."""
    ids = _twin_ids(twins)
    if not ids:
        return 0
    leaving.refuse_if_any_leaving(ids)
    deleted, _ = Membership.objects.filter(group=group, twin_id__in=ids).delete()
    return deleted


@transaction.atomic
def thing_set_groups(*, twin: Twin, groups: list[Group]) -> list[Group]:
    """Put the thing in exactly `groups` (all its owner's): it leaves the owner's other groups."""
    if any(group.owner_id != twin.owner_id for group in groups):
        raise ValidationError({"groups": "No such group among yours: pick from your groups."})
    leaving.refuse_if_leaving(twin)
    wanted = {group.pk for group in groups}
    Membership.objects.filter(twin_id=twin.pk).exclude(group_id__in=wanted).delete()
    have = set(Membership.objects.filter(twin_id=twin.pk).values_list("group_id", flat=True))
    Membership.objects.bulk_create(
        [Membership(group_id=pk, twin_id=twin.pk) for pk in wanted - have], ignore_conflicts=True
    )
    return groups


# --- For the importer -----------------------------------------------------------------------------------------------


def parse_group_path(path: str) -> tuple[str, ...]:
    """ "Herd" -> ("Herd",); "Site / Room" -> ("Site", "Room"); a bad path raises ValidationError with words."""
    text = (path or "").strip()
    if not text:
        raise ValidationError("The group is empty: give a name, or “Site / Room” for a group inside another.")
    if not is_storable_text(text):
        raise ValidationError(f"The group name cannot be stored: {UNSTORABLE_MESSAGE}")
    if len(text) > 2 * NAME_MAX + len(PATH_SEPARATOR):
        raise ValidationError(f"The group “{text[:40]}…” is too long: at most {NAME_MAX} characters per name.")
    parts = tuple(part.strip() for part in text.split("/"))
    if len(parts) > 2:
        raise ValidationError(f"The group “{text}” has more than one level: groups nest one level only (Site / Room).")
    for part in parts:
        if not part:
            raise ValidationError(f"The group “{text}” has an empty name on one side of “/”.")
        if len(part) > NAME_MAX:
            raise ValidationError(f"The group name “{part[:40]}…” is too long: at most {NAME_MAX} characters.")
    return parts


def _get_or_create(*, owner, name: str, parent: Group | None) -> Group:
    found = (
        Group.objects.filter(owner=owner, parent=parent, name__iexact=name).first()
        if parent is not None
        else Group.objects.filter(owner=owner, parent__isnull=True, name__iexact=name).first()
    )
    if found is not None:
        return found
    try:
        with transaction.atomic():
            _lock(parent)
            _check_parent(owner=owner, parent=parent)
            return Group.objects.create(owner=owner, name=name, parent=parent)
    except IntegrityError:
        # Another import created it between our read and our insert: read theirs.
        condition = Q(parent=parent) if parent is not None else Q(parent__isnull=True)
        return Group.objects.filter(condition, owner=owner, name__iexact=name).get()


def group_for_import(*, owner, path: str) -> Group:
    """The owner's group named by an import's group column ("Herd", or "Site / Room"), created (with its parent)
    when missing; names match case-insensitively. Raises ValidationError with words for a bad path (empty, too
    long, more than one level)."""
    parts = parse_group_path(path)
    if len(parts) == 1:
        return _get_or_create(owner=owner, name=parts[0], parent=None)
    site = _get_or_create(owner=owner, name=parts[0], parent=None)
    return _get_or_create(owner=owner, name=parts[1], parent=site)


# --- Seams ----------------------------------------------------------------------------------------------------------


def _forget_on_transfer(event: events.Transferred) -> None:
    """The seller's groups are the seller's: a sold thing leaves them."""
    Membership.objects.filter(twin_id=event.twin_id).delete()


def connect() -> None:
    events.subscribe(events.Transferred, _forget_on_transfer, in_transaction=True)
