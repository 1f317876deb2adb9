"""Backfill: an ownership credential for every twin that has none for its current owner (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from credentials.models import OwnershipCredential
from credentials.services import ownership_credential_issue
from twins.models import Twin


class Command(BaseCommand):
    help = "Issue ownership credentials to the owners of twins created before credentials existed (idempotent)."

    def handle(self, *args, **options) -> None:
        covered = OwnershipCredential.objects.standing().values("twin_id")
        todo = (
            Twin.objects.exclude(did="")
            .filter(deactivated_at__isnull=True)
            .exclude(pk__in=covered)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        issued = 0
        for pk in todo.iterator():
            # One transaction per twin (the service's): a failure leaves the others done.
            if ownership_credential_issue(twin=Twin.objects.get(pk=pk)) is not None:
                issued += 1
        self.stdout.write(f"Issued {issued} ownership credential{'s' * (issued != 1)}.")
