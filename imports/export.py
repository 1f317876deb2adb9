"""Export an owner's things (or a selection) in the import's own shape, CSV or JSON, streamed.

Columns: name, model, serial, external_id, group, tag_code, then one per attribute name any exported thing has. The
external id is the one an import gave the thing, or else the thing's id (slug), which import recognises: an export
imports back unchanged. A thing in several groups is exported with one of them (import only adds to groups); a thing
with several active tags, with its oldest. CSV cells that a spreadsheet would run as a formula, the heading row's
attribute names included, get a leading apostrophe (core.csvsafe), which import removes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import F, QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from bulk.actions import BulkAction, register_action
from core import csvsafe
from fleets.models import Membership
from imports.models import ImportedThing
from tags.models import Tag
from twins.models import Twin

COLUMNS = ["name", "model", "serial", "external_id", "group", "tag_code"]
_CHUNK = 500


def attribute_names(twins: QuerySet[Twin]) -> list[str]:
    names: dict[str, None] = {}
    for attributes in twins.values_list("attributes", flat=True).iterator(chunk_size=2000):
        for key in attributes or {}:
            names.setdefault(key, None)
    return sorted(names, key=str.casefold)


def _chunks(twins: QuerySet[Twin]) -> Iterator[list[Twin]]:
    chunk: list[Twin] = []
    fields = ("pk", "slug", "name", "model_name", "serial", "attributes")
    for twin in twins.only(*fields).order_by("pk").iterator(chunk_size=2000):
        chunk.append(twin)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_records(twins: QuerySet[Twin], attributes: list[str] | None = None) -> Iterator[dict[str, str]]:
    """One dict per thing, in the columns' order (attributes: the names to write, all of them by default)."""
    for chunk in _chunks(twins):
        ids = [twin.pk for twin in chunk]
        # The thing's owner's own external ids: a seller's row stays hers after a sale (her spreadsheet's id).
        external = dict(
            ImportedThing.objects.filter(twin_id__in=ids, owner_id=F("twin__owner_id"))
            .exclude(external_id="")
            .values_list("twin_id", "external_id")
        )
        tags: dict[int, str] = {}
        for twin_id, code in (
            Tag.objects.active().filter(twin_id__in=ids).order_by("-created_at", "-id").values_list("twin_id", "code")
        ):
            tags[twin_id] = code  # the last written wins: the oldest
        groups: dict[int, str] = {}
        for twin_id, name, parent in (
            Membership.objects.filter(twin_id__in=ids)
            .order_by("-group__name", "-pk")
            .values_list("twin_id", "group__name", "group__parent__name")
        ):
            groups[twin_id] = f"{parent} / {name}" if parent else name
        for twin in chunk:
            record = {
                "name": twin.name,
                "model": twin.model_name,
                "serial": twin.serial,
                "external_id": external.get(twin.pk, twin.slug),
                "group": groups.get(twin.pk, ""),
                "tag_code": tags.get(twin.pk, ""),
            }
            values = twin.attributes or {}
            for key in attributes if attributes is not None else sorted(values, key=str.casefold):
                record[key] = str(values.get(key, ""))
            yield record


def csv_lines(twins: QuerySet[Twin]) -> Iterator[str]:
    names = attribute_names(twins)
    # The heading row too: attribute names are anyone's text (a seller's, kept on a thing after the sale).
    writer = csvsafe.line_writer(lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(COLUMNS + names)
    for record in export_records(twins, names):
        yield writer.writerow(record.values())


def json_parts(twins: QuerySet[Twin]) -> Iterator[str]:
    yield "["
    first = True
    for record in export_records(twins):
        record = {key: value for key, value in record.items() if value or key in COLUMNS[:3]}
        yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "\n]\n"


def _encoded(parts: Iterable[str]) -> Iterator[bytes]:
    for part in parts:
        yield part.encode()


def export_response(twins: QuerySet[Twin], fmt: str = "csv") -> StreamingHttpResponse:
    if fmt == "json":
        response = StreamingHttpResponse(_encoded(json_parts(twins)), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="things.json"'
    else:
        response = StreamingHttpResponse(_encoded(csv_lines(twins)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="things.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def _export_csv_action(request: HttpRequest, twins: QuerySet, params: Any) -> StreamingHttpResponse:
    return export_response(twins, "csv")


def connect() -> None:
    register_action(BulkAction(key="export-csv", label="Export CSV", whole=_export_csv_action, order=80))
