"""What each row of an import means, checked against the owner's things a batch at a time (reads only: the dry run
and the import share it, so what the dry run promises is what the import does, checked again at that moment).

A column absent from the file leaves that field of an updated thing alone; a present but empty cell clears it
(except the name, which every thing needs). Attribute columns set the attribute, or remove it when empty; other
attributes of the thing stay. Group and tag code only add: an empty cell removes nothing.

A row names its thing by external id: the thing an earlier import made for it, or the thing whose id (slug) it is
(an export writes the slug for things never imported, so an export imports back unchanged); an unknown external
id, or none, makes a new thing. A row without an external id whose serial one of the owner's things already has is
an error, not a second thing.

A tag code not on one of the owner's own things (a pre-printed sticker to attach) is looked up only within the
account's budget (:class:`TagBudget`), as a typed code is within the scan budget: a file is no way to guess codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from core.ratelimit import Limit, hit_many, wait_text
from core.validators import is_storable_text
from fleets.models import Membership
from fleets.services import parse_group_path
from imports.models import ImportedThing
from imports.reader import KNOWN, RawRow
from tags.codes import format_short_code, normalize_short_code
from tags.models import Tag
from twins.models import Twin
from twins.services import MAX_ATTRIBUTE_VALUE

MAX_EXTERNAL_ID = 200
# Known column -> (Twin field, longest value).
FIELDS = {"name": ("name", 120), "model": ("model_name", 120), "serial": ("serial", 120)}
NO_TAG = "no unassigned pre-printed tag has the code {code}"
TAG_BUDGET_SCOPE = "import-tag-codes"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    LEAVE = "leave"
    ERROR = "error"


@dataclass
class Row:
    number: int
    external_id: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # Twin field -> value, for the columns given
    attributes: dict[str, str] = field(default_factory=dict)  # name -> value ("" removes)
    group: str = ""
    group_parts: tuple[str, ...] = ()
    tag_code: str = ""
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Planned:
    row: Row
    action: Action
    twin: Twin | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # Twin field -> new value (attributes whole)
    tag: Tag | None = None  # to claim
    join_group: bool = False


def _cell_problem(key: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{len(value):,} characters; at most {limit:,}"
    if not is_storable_text(value):
        return "contains a NUL or another character that cannot be stored"
    return None


def parse_row(raw: RawRow) -> Row:
    """The row's cells, each checked on its own (lengths, codes, group paths); no database read."""
    row = Row(number=raw.number, problems=list(raw.problems))
    for key, value in raw.cells.items():
        if key in FIELDS:
            name, limit = FIELDS[key]
            value = value.strip()
            problem = _cell_problem(key, value, limit)
            if problem:
                row.problems.append((key, problem))
            else:
                row.fields[name] = value
        elif key == "external_id":
            value = value.strip()
            problem = _cell_problem(key, value, MAX_EXTERNAL_ID)
            if problem:
                row.problems.append((key, problem))
            else:
                row.external_id = value
        elif key == "group":
            value = value.strip()
            if value:
                try:
                    row.group_parts = parse_group_path(value)
                    row.group = value
                except ValidationError as exc:
                    row.problems.append((key, " ".join(exc.messages)[:250]))
        elif key == "tag_code":
            value = value.strip()
            if value:
                code = normalize_short_code(value[:40])
                if code is None:
                    row.problems.append((key, f"“{value[:20]}” is not a tag code (8 letters and digits, ABCD-EFGH)"))
                else:
                    row.tag_code = code
        elif key not in KNOWN.values():
            problem = _cell_problem(key, value, MAX_ATTRIBUTE_VALUE)
            if problem:
                row.problems.append((key, problem))
            else:
                row.attributes[key] = value
    if "name" in row.fields and not row.fields["name"]:
        row.problems.append(("name", "empty; every thing needs a name"))
    return row


@dataclass
class FileSeen:
    """Keys already used by earlier rows of the same file (first row wins), so a duplicate is named."""

    external_ids: dict[str, int] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)

    def check(self, row: Row) -> None:
        for column, value, seen in (
            ("external_id", row.external_id, self.external_ids),
            ("serial", row.fields.get("serial", ""), self.serials),
            ("tag_code", row.tag_code, self.tags),
        ):
            if not value:
                continue
            first = seen.setdefault(value, row.number)
            if first != row.number:
                row.problems.append((column, f"“{value[:40]}” is also in row {first:,}"))


@dataclass
class TagBudget:
    """Which tag codes of a file an import may look up (review finding 4: a file of 3,000 guessed codes found, and
    claimed, a stranger's unassigned sticker, past the typed-code limit).

    Codes on the owner's own things cost nothing (their answer tells the owner nothing new, and an export's codes
    import back). Each other code spends one of the account's RATE_IMPORT_TAG_CODES_PER_ACCOUNT, in row order,
    found or not; once the budget is spent, no code of that row or a later one is looked up, and each such row is
    an error that reads the same whether its code exists or not. The dry run spends the budget and records the
    last row it reached (ImportRun.tag_codes_until_row); the import itself spends nothing and looks up only codes of
    rows up to that one, which the dry run paid for (codes checked twice are counted once)."""

    owner_id: int
    spend: bool = True  # the dry run; False for the confirmed import
    until_row: int | None = None  # the last row whose code may be looked up; None: every row's (so far)
    retry_after: int | None = None

    def allow(self, codes: list[tuple[str, int]]) -> set[str]:
        """Of these (code, its first row) not on the owner's things, in row order: those that may be looked up."""
        if not self.spend:
            return {code for code, row in codes if self.until_row is None or row <= self.until_row}
        if not codes or self.until_row is not None:
            return set()
        limit = settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT
        allowed = set()
        for (code, row), retry_after in zip(
            codes, hit_many(TAG_BUDGET_SCOPE, [(str(self.owner_id), limit)] * len(codes)), strict=True
        ):
            if retry_after is not None:
                self.until_row, self.retry_after = row - 1, retry_after
                break
            allowed.add(code)
        return allowed

    def refusal(self) -> str:
        limit = Limit.parse(settings.RATE_IMPORT_TAG_CODES_PER_ACCOUNT)
        when = wait_text(self.retry_after) if self.retry_after else "later"
        return (
            f"not looked up: an account's imports may look up {limit.count:,} tag codes {_per(limit.seconds)} that "
            f"are not on its own things, and this import reached that; import this row again {when}"
        )


def _per(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return f"per {unit}" if count == 1 else f"per {count:,} {unit}s"
    return f"per {seconds} seconds"  # pragma: no cover - every integer is a whole number of seconds


def plan_batch(*, owner, rows: list[Row], seen: FileSeen, budget: TagBudget) -> list[Planned]:
    """What each row would do now. Reads a few queries per batch, whatever its size; writes nothing (but the dry
    run's tag codes spend the account's budget)."""
    for row in rows:
        seen.check(row)
    targets = _targets(owner, [row.external_id for row in rows if row.external_id])
    serials = _serial_users(owner, [row.fields["serial"] for row in rows if row.fields.get("serial")])
    tags, refused = _tags(owner, rows, seen, budget)
    twin_ids = [twin.pk for twin in targets.values()]
    members = _memberships(twin_ids, [row.group_parts for row in rows if row.group_parts and row.external_id])
    planned = []
    for row in rows:
        twin = targets.get(row.external_id) if row.external_id else None
        if row.tag_code in refused and seen.tags.get(row.tag_code) == row.number:
            row.problems.append(("tag_code", budget.refusal()))
        planned.append(_plan(owner, row, twin, serials, tags, members))
    return planned


def _plan(owner, row: Row, twin: Twin | None, serials, tags, members) -> Planned:
    flagged = {column for column, _ in row.problems}
    serial = row.fields.get("serial", "")
    if serial and "serial" not in flagged:
        for other_id, other_name in serials.get(serial, ()):
            if twin is None or other_id != twin.pk:
                row.problems.append(("serial", f"“{serial[:40]}” is already used by {other_name}"))
                break
    tag = None
    if row.tag_code and "tag_code" not in flagged:
        found = tags.get(row.tag_code)
        if found is None or (found.twin_id is not None and found.twin.owner_id != owner.pk):
            # The same words for an unknown code and another owner's tag: nothing of theirs is revealed.
            row.problems.append(("tag_code", NO_TAG.format(code=format_short_code(row.tag_code))))
        elif found.status == Tag.Status.RETIRED:
            row.problems.append(("tag_code", f"the tag {format_short_code(row.tag_code)} is retired"))
        elif found.twin_id is not None and (twin is None or found.twin_id != twin.pk):
            row.problems.append(
                ("tag_code", f"the tag {format_short_code(row.tag_code)} is already attached to {found.twin.name}")
            )
        elif found.twin_id is None:
            tag = found
    if twin is not None and twin.deactivated_at is not None:
        row.problems.append(("external_id", f"{twin.name} is deactivated; it cannot change any more"))
    if twin is not None and twin.archived_at is not None and tag is not None:
        row.problems.append(("tag_code", f"{twin.name} is archived; restore it before attaching tags"))
    if twin is None and "name" not in row.fields and all(column != "name" for column, _ in row.problems):
        row.problems.append(("name", "missing; a new thing needs a name"))
    if row.problems:
        return Planned(row=row, action=Action.ERROR, twin=twin)
    if twin is None:
        return Planned(row=row, action=Action.CREATE, tag=tag, join_group=bool(row.group_parts))
    changes: dict[str, Any] = {}
    for name, value in row.fields.items():
        if getattr(twin, name) != value:
            changes[name] = value
    if row.attributes:
        attributes = dict(twin.attributes or {})
        for key, value in row.attributes.items():
            if value:
                attributes[key] = value
            else:
                attributes.pop(key, None)
        if attributes != (twin.attributes or {}):
            if len(attributes) > 50:
                row.problems.append(("", f"the thing would have {len(attributes)} attributes; at most 50"))
                return Planned(row=row, action=Action.ERROR, twin=twin)
            changes["attributes"] = attributes
    join = bool(row.group_parts) and (twin.pk, _folded(row.group_parts)) not in members
    if not changes and tag is None and not join:
        return Planned(row=row, action=Action.LEAVE, twin=twin)
    return Planned(row=row, action=Action.UPDATE, twin=twin, changes=changes, tag=tag, join_group=join)


def mapped_things(owner, external_ids: list[str]) -> QuerySet[ImportedThing]:
    """The owner's imported things with these external ids, through the unique index on (owner, external id).

    The NOT (external_id = '') term is that partial index's own condition, which the query must repeat for the
    index to serve it (SQLite matches a partial index's WHERE term by term; PostgreSQL proves it from an IN list
    only up to 100 values): without it each batch read all the owner's imported things, more with every batch."""
    return (
        ImportedThing.objects.filter(owner=owner, external_id__in=external_ids)
        .exclude(external_id="")
        .select_related("twin")
        .order_by()
    )


def _targets(owner, external_ids: list[str]) -> dict[str, Twin]:
    if not external_ids:
        return {}
    found: dict[str, Twin] = {}
    for item in mapped_things(owner, external_ids):
        if item.twin.owner_id == owner.pk:
            found[item.external_id] = item.twin
    rest = [value for value in external_ids if value not in found and len(value) <= 32]
    if rest:
        for twin in Twin.objects.filter(owner=owner, slug__in=rest).order_by():
            found[twin.slug] = twin
    return found


def _serial_users(owner, serials: list[str]) -> dict[str, list[tuple[int, str]]]:
    users: dict[str, list[tuple[int, str]]] = {}
    if serials:
        # No ORDER BY (Twin's default sorts by name): only the lookup, through twin_owner_serial_idx (twins 0014).
        for pk, serial, name in (
            Twin.objects.filter(owner=owner, serial__in=serials).order_by().values_list("pk", "serial", "name")
        ):
            users.setdefault(serial, []).append((pk, name))
    for found in users.values():
        found.sort(key=lambda user: (user[1], user[0]))  # the same thing named first, whatever the plan
    return users


def _tags(owner, rows: list[Row], seen: FileSeen, budget: TagBudget) -> tuple[dict[str, Tag], set[str]]:
    """The batch's tags by code, and the codes the budget did not let it look up."""
    codes = list(dict.fromkeys(row.tag_code for row in rows if row.tag_code))
    if not codes:
        return {}, set()
    found = {tag.code: tag for tag in Tag.objects.filter(code__in=codes, twin__owner=owner).select_related("twin")}
    numbers = {row.number for row in rows}
    # A code first given in an earlier batch was paid for (or refused) there; here it is a duplicate row's error.
    others = [(code, seen.tags[code]) for code in codes if code not in found and seen.tags[code] in numbers]
    allowed = budget.allow(others)
    if allowed:
        found.update({tag.code: tag for tag in Tag.objects.filter(code__in=allowed).select_related("twin")})
    return found, {code for code, _ in others if code not in allowed}


def _folded(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part.casefold() for part in parts)


def _memberships(twin_ids: list[int], paths: list[tuple[str, ...]]) -> set[tuple[int, tuple[str, ...]]]:
    """(twin id, folded group path) for each membership of these things in groups named like these paths."""
    if not twin_ids or not paths:
        return set()
    names = {part.casefold() for path in paths for part in path[-1:]}
    condition = Q()
    for name in names:
        condition |= Q(group__name__iexact=name)
    rows = Membership.objects.filter(condition, twin_id__in=twin_ids).values_list(
        "twin_id", "group__name", "group__parent__name"
    )
    found = set()
    for twin_id, name, parent in rows:
        path = (parent, name) if parent else (name,)
        found.add((twin_id, _folded(path)))
    return found
