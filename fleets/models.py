"""Groups of an owner's things (a herd, a site and its rooms, a van's kit) and who is in them.

A group nests one level at most (site -> rooms): a group with a parent cannot have children. A thing can be in
several groups. Groups, like places and labels, are the owner's own organisation: a sold thing leaves them
(fleets.services subscribes to twins.events.Transferred).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from twins.models import Twin


class Group(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fleet_groups")
    name = models.CharField(max_length=80)
    # PROTECT: deleting a site lifts its rooms to the top level first (fleets.services.group_delete); one level only,
    # checked by the services (a constraint cannot look at the parent's own parent).
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    description = models.TextField(max_length=2000, blank=True)
    twins = models.ManyToManyField(Twin, through="Membership", related_name="fleet_groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # How many memberships the group has (archived members too): kept by the database itself, triggers on
    # fleets_membership (migration 0002), so every way a membership comes or goes (the services, bulk jobs, imports,
    # a sold thing leaving, a thing or group deleted, a COPY) keeps it right. The groups' cards read it instead of
    # counting every membership on each page (10,000 a group: the cards page's slowest query). Never written by Python.
    membership_count = models.IntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The owner's groups, loaded whole: WHERE owner_id = ? ORDER BY name
            models.Index(fields=["owner", "parent", "name"], name="fleet_group_owner_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="fleet_group_name_not_empty"),
            # Two "Kitchen"s on one site could not be told apart; two sites' kitchens can.
            models.UniqueConstraint(
                "owner",
                "parent",
                Lower("name"),
                name="fleet_group_name_unique_in_parent",
                condition=Q(parent__isnull=False),
            ),
            models.UniqueConstraint(
                "owner", Lower("name"), name="fleet_group_name_unique_at_top", condition=Q(parent__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        """ "Site / Room" (the parent must be loaded or cheap to load) or "Herd"."""
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class Membership(models.Model):
    # No single-column indexes: the unique constraint (group, twin) and the index (twin, group) lead with each.
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    twin = models.ForeignKey(Twin, on_delete=models.CASCADE, related_name="fleet_memberships", db_index=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Adding a thing twice (two tabs, an import run twice) is a no-op, never a second row.
            models.UniqueConstraint(fields=["group", "twin"], name="fleet_membership_unique"),
        ]
        indexes = [
            # The group filter and a thing's groups: WHERE twin_id = ? / twin_id IN (...)
            models.Index(fields=["twin", "group"], name="fleet_membership_twin_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.twin_id} in {self.group_id}"
