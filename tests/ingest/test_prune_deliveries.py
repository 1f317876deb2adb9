"""prune_deliveries: deliveries are remembered at least 5 days, then forgotten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ingest.models import Delivery


def test_deliveries_older_than_the_window_are_deleted_and_younger_ones_kept(source, capsys):
    old = Delivery.objects.create(source=source, webhook_id="old", status=200, response={})
    young = Delivery.objects.create(source=source, webhook_id="young", status=200, response={})
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    Delivery.objects.filter(pk=young.pk).update(created_at=timezone.now() - timedelta(days=6))
    call_command("prune_deliveries")
    assert list(Delivery.objects.values_list("webhook_id", flat=True)) == ["young"]
    assert "Deleted 1" in capsys.readouterr().out


def test_a_window_under_five_days_is_refused(source):
    with pytest.raises(CommandError, match="5 days"):
        call_command("prune_deliveries", "--days", "4")
