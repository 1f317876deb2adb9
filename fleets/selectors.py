"""Reads of groups, always scoped to the viewer: another owner's group is the one 404, never a 403.

A group's page shows its own members and those of the groups inside it (a site's rooms), the members' latest
readings (kept on the thing's row: no query per member), a combined chart of one reading kind (one series per
member, the first CHART_MEMBERS members only) and the last known coordinates of the members that report them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import Count, Expression, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower
from django.http import Http404

from fleets.models import Group, Membership
from twins.downsample import reading_series
from twins.models import Reading, Twin

# One series per member: more lines than this is a tangle nobody reads (the page says how many are left out).
CHART_MEMBERS = 12
CHART_DAYS = 30
CHART_BUCKETS = 120
MAP_MEMBERS = 500

# Coordinates arrive as two scalar readings: a kind naming the axis ("latitude", "lat"), or a location kind whose
# unit names it (kind "location", unit "lat": what devices and the emergency card send). Latitude and longitude
# are paired only when recorded within PAIR_WINDOW of each other (one fix), so a stale half never makes a point.
LATITUDE_KINDS = ("latitude", "lat")
LONGITUDE_KINDS = ("longitude", "lon", "lng")
LOCATION_KINDS = ("location", "position", "gps")
PAIR_WINDOW = timedelta(minutes=10)


def _viewer_id(viewer) -> int | None:
    return viewer.pk if getattr(viewer, "is_authenticated", False) else None


def _groups_in_order(viewer) -> QuerySet[Group]:
    """The viewer's groups in display order, each site followed by its rooms (names case-insensitively)."""
    return (
        Group.objects.filter(owner_id=_viewer_id(viewer))
        .select_related("parent")
        .order_by(
            # A site and its rooms together: by the site's name, the site before its rooms, then the room's name.
            Lower(Coalesce("parent__name", "name")),
            F("parent_id").asc(nulls_first=True),
            Lower("name"),
            "id",
        )
    )


def _member_count() -> Expression:
    """A group's own members that are not archived: its stored membership count (Group.membership_count, kept by
    the database on every membership written or deleted: migration fleets 0002) less its archived members (found
    from the owner's archived things through twin_cards_idx, few by nature). Counting every membership on each page
    cost an index-only scan of 10,000 entries a group for an owner with 100,000 things, the cards page's slowest
    query; the stored count is read with the group's row. Memberships are the group owner's things only
    (fleets.services adds only those; a sold thing leaves its groups)."""
    archived = (
        Membership.objects.filter(
            group_id=OuterRef("pk"), twin__owner_id=OuterRef("owner_id"), twin__archived_at__isnull=False
        )
        .order_by()
        .values("group_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return F("membership_count") - Coalesce(Subquery(archived), 0)


def group_list(*, viewer) -> QuerySet[Group]:
    """The viewer's groups in display order, each site followed by its rooms (names case-insensitively), each with
    `member_count` (its own members that are not archived). One query, sliceable."""
    return _groups_in_order(viewer).annotate(member_count=_member_count())


def group_tree(*, viewer) -> list[tuple[Group, int]]:
    """The viewer's groups as (group, depth): 0 for a top-level group, 1 for a room inside a site."""
    return [(group, 1 if group.parent_id else 0) for group in group_list(viewer=viewer)]


def group_get(*, viewer, group_id: int) -> Group:
    viewer_id = _viewer_id(viewer)
    if viewer_id is None:
        raise Http404("No such group.")
    group = Group.objects.select_related("parent").filter(pk=group_id, owner_id=viewer_id).first()
    if group is None:
        raise Http404("No such group.")
    return group


def groups_by_id(*, owner, ids: list[int]) -> list[Group]:
    """The owner's groups of these ids (another owner's are not found: the caller compares the counts)."""
    return list(Group.objects.filter(owner_id=_viewer_id(owner), pk__in=set(ids)))


def groups_of(*, twin: Twin) -> set[int]:
    """Ids of the groups the thing is in (its owner's)."""
    return set(
        Membership.objects.filter(twin_id=twin.pk, group__owner_id=twin.owner_id).values_list("group_id", flat=True)
    )


def group_choices(viewer) -> list[tuple[str, str]]:
    """[(id, "Site / Room")] of the viewer's groups, for selects (one query, no member counts: the cards page's
    group filter asks on every page). Plain values, not model instances: the same labels as Group.path."""
    rows = _groups_in_order(viewer).values_list("pk", "name", "parent__name")
    return [(str(pk), f"{parent} / {name}" if parent is not None else name) for pk, name, parent in rows]


def group_children(*, group: Group) -> list[Group]:
    return list(group.children.order_by("name", "id"))


def group_members(*, group: Group, children: list[Group] | None = None) -> QuerySet[Twin]:
    """The group's things and, for a site, its rooms' things (each once), not archived, by name."""
    ids = [group.pk, *(child.pk for child in children or [])]
    inside = Membership.objects.filter(group_id__in=ids).values("twin_id")
    qs = Twin.objects.filter(owner_id=group.owner_id, archived_at__isnull=True, pk__in=inside).order_by("name", "id")
    # Each thing's place (inventory), in the same query, where the project has places.
    return qs.select_related("placement__location") if apps.is_installed("inventory") else qs


def memberships_of(*, twins: list[Twin], groups: list[Group]) -> dict[int, set[int]]:
    """{thing id: ids of `groups` it is in} for one page of members, in one query."""
    if not groups or not twins:
        return {}
    found: dict[int, set[int]] = {}
    for twin_id, group_id in Membership.objects.filter(
        group_id__in=[group.pk for group in groups], twin_id__in=[twin.pk for twin in twins]
    ).values_list("twin_id", "group_id"):
        found.setdefault(twin_id, set()).add(group_id)
    return found


# --- The combined chart ---------------------------------------------------------------------------------------------


@dataclass
class Chart:
    kind: str
    unit: str
    kinds: list[str]  # every reading kind among the members (the page offers to switch)
    series: list[dict] = field(default_factory=list)  # [{"name", "slug", "points": [{"t", "v"}]}]
    members_of_kind: int = 0
    left_out: int = 0  # members of this kind beyond CHART_MEMBERS
    start: datetime | None = None
    end: datetime | None = None


def group_chart(*, members: QuerySet[Twin], kind: str = "") -> Chart:
    """One series per member whose reading kind is `kind` (default: the kind most members have), over at most the
    CHART_DAYS before the newest such reading (from the oldest reading in them), each downsampled
    (twins.downsample) to CHART_BUCKETS averages.
    At most CHART_MEMBERS series: the first members by name; `left_out` says how many more there are."""
    rows = list(members.values_list("pk", "name", "slug", "reading_kind", "reading_unit"))
    counts = Counter(row[3] for row in rows)
    kinds = sorted(counts)
    if kind not in counts:
        kind = counts.most_common(1)[0][0] if counts else ""
    chosen = [row for row in rows if row[3] == kind]
    chart = Chart(kind=kind, unit="", kinds=kinds, members_of_kind=len(chosen))
    if not chosen:
        return chart
    shown = chosen[:CHART_MEMBERS]
    chart.left_out = len(chosen) - len(shown)
    chart.unit = next((row[4] for row in shown if row[4]), "")
    readings = Reading.objects.filter(twin_id__in=[row[0] for row in shown], kind=kind)
    newest = readings.aggregate(newest=Max("time"))["newest"]
    if newest is None:
        return chart
    end = newest + timedelta(microseconds=1)
    # The window starts at the oldest reading of the last CHART_DAYS: a day of readings fills the chart's width.
    start = readings.filter(time__gte=end - timedelta(days=CHART_DAYS)).aggregate(oldest=Min("time"))["oldest"]
    chart.start, chart.end = start, end
    for pk, name, slug, _, _ in shown:
        twin = Twin(pk=pk)
        buckets = reading_series(twin=twin, kind=kind, start=start, end=end, buckets=CHART_BUCKETS)
        if buckets:
            chart.series.append(
                {
                    "name": name,
                    "slug": slug,
                    # A bucket's average at its middle: the member's line over the same time axis as the others.
                    "points": [
                        {"t": (b.start + (b.end - b.start) / 2).isoformat(), "v": round(b.avg, 6)} for b in buckets
                    ],
                }
            )
    return chart


# --- Last known locations -------------------------------------------------------------------------------------------


def _axis(names: tuple[str, ...], units: tuple[str, ...]) -> Q:
    return Q(kind__in=names) | Q(kind__in=LOCATION_KINDS, unit__in=units)


LATITUDE = _axis(LATITUDE_KINDS, ("lat", "latitude"))
LONGITUDE = _axis(LONGITUDE_KINDS, ("lon", "lng", "longitude"))


def group_locations(*, members: QuerySet[Twin]) -> list[dict]:
    """The last known coordinates of up to MAP_MEMBERS members, in one query: [{"name", "slug", "lat", "lon",
    "at"}] for each member whose newest latitude and newest longitude readings are one fix (within PAIR_WINDOW)
    and lie on the globe. Members without coordinates are left out."""
    newest = Reading.objects.filter(twin_id=OuterRef("pk")).order_by("-time", "-id")
    rows = members.annotate(
        lat=Subquery(newest.filter(LATITUDE).values("value")[:1]),
        lat_at=Subquery(newest.filter(LATITUDE).values("time")[:1]),
        lon=Subquery(newest.filter(LONGITUDE).values("value")[:1]),
        lon_at=Subquery(newest.filter(LONGITUDE).values("time")[:1]),
    ).values_list("name", "slug", "lat", "lat_at", "lon", "lon_at")[:MAP_MEMBERS]
    found = []
    for name, slug, lat, lat_at, lon, lon_at in rows:
        if lat is None or lon is None or abs(lat_at - lon_at) > PAIR_WINDOW:
            continue
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        found.append({"name": name, "slug": slug, "lat": lat, "lon": lon, "at": min(lat_at, lon_at)})
    return found


def map_points(locations: list[dict], *, width: int = 600, height: int = 300, margin: int = 24) -> list[dict]:
    """Plot coordinates in an SVG box (equirectangular, fitted to the points with the same scale on both axes, so
    distances look right near the group's area). No tiles: the machine has no internet; the points and their names
    are the map."""
    if not locations:
        return []
    lats = [p["lat"] for p in locations]
    lons = [p["lon"] for p in locations]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    # Longitude degrees shrink with latitude: scale them by cos(mean latitude).
    shrink = max(math.cos(math.radians((lat0 + lat1) / 2)), 0.01)
    span_x = (lon1 - lon0) * shrink or 1e-6
    span_y = (lat1 - lat0) or 1e-6
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
    cx = (width - span_x * scale) / 2
    cy = (height - span_y * scale) / 2
    return [
        {
            **p,
            "x": round(cx + (p["lon"] - lon0) * shrink * scale, 1),
            "y": round(height - cy - (p["lat"] - lat0) * scale, 1),
        }
        for p in locations
    ]
