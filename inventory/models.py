"""Places (nested, per owner), where each thing is, and labels (colour + name, per owner).

A thing's place and labels are its owner's own organisation: they belong to the owner, not to the twin, and go
when the thing changes hands (inventory.locations.connect subscribes to twins.events.Transferred).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from twins.models import Twin, new_public_id


class Location(models.Model):
    """A place things are kept: a home, a room in it, a drawer in the room. Addressed by a random public id,
    which its printed QR code carries."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="locations")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=80)
    # PROTECT: deleting a place moves what it holds up first (inventory.locations.location_delete).
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The owner's tree, loaded whole: WHERE owner_id = ?
            models.Index(fields=["owner", "parent"], name="location_tree_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="location_name_not_empty"),
            # Two "Drawer"s in one kitchen could not be told apart; two kitchens' drawers can.
            models.UniqueConstraint(
                "owner",
                "parent",
                Lower("name"),
                name="location_name_unique_in_parent",
                condition=Q(parent__isnull=False),
            ),
            models.UniqueConstraint(
                "owner", Lower("name"), name="location_name_unique_at_top", condition=Q(parent__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Placement(models.Model):
    """Where one thing is now: at most one place per thing (the primary key is the twin)."""

    twin = models.OneToOneField(Twin, on_delete=models.CASCADE, primary_key=True, related_name="placement")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="placements")
    moved_at = models.DateTimeField()

    # The foreign key's own index serves a place's page and the place filter (WHERE location_id IN (...)).

    def __str__(self) -> str:
        return f"{self.twin_id} in {self.location_id}"


class Label(models.Model):
    """A coloured name an owner gives to group things ("kitchen", "to sell")."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    colour = models.CharField(max_length=7, default="#3366cc")  # "#rrggbb"
    twins = models.ManyToManyField(Twin, blank=True, related_name="inventory_labels")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="label_name_not_empty"),
            models.UniqueConstraint("owner", Lower("name"), name="label_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name
