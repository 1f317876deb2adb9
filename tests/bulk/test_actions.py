"""Each built-in per-thing action, run as a job over a selection; a refusal of one thing is listed, the others
are done."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from bulk import jobs
from bulk.actions import action_get
from bulk.models import BulkJob
from bulk.selection import Selection
from sharing import grants
from sharing.models import Grant
from twins import services as twin_services


def run(owner, key: str, things, params=None) -> BulkJob:
    action = action_get(key)
    cleaned = jobs.params_clean(action, params or {}, owner)
    return jobs.job_create(
        owner=owner, action=action, params=cleaned, selection=Selection.from_params({}, [t.slug for t in things])
    )


def reasons(job: BulkJob) -> dict[str, str]:
    return {o.twin.name: o.reason for o in job.outcomes.filter(ok=False).select_related("twin")}


def test_set_an_attribute_on_each_keeps_the_others(alice, drills):
    twin_services.twin_update(twin=drills[0], attributes={"brand": "Bosch"})
    job = run(alice, "set-attribute", drills[:2], {"name": " floor ", "value": "2"})
    assert (job.status, job.done_count, job.failed_count) == ("done", 2, 0)
    drills[0].refresh_from_db()
    assert drills[0].attributes == {"brand": "Bosch", "floor": "2"}
    drills[2].refresh_from_db()
    assert drills[2].attributes == {}


def test_an_empty_value_removes_the_attribute(alice, drills):
    twin_services.twin_update(twin=drills[0], attributes={"floor": "1", "brand": "Bosch"})
    run(alice, "set-attribute", drills[:1], {"name": "floor", "value": ""})
    drills[0].refresh_from_db()
    assert drills[0].attributes == {"brand": "Bosch"}


def test_a_bad_attribute_name_is_refused_before_any_job(alice, drills):
    with pytest.raises(ValidationError) as caught:
        jobs.params_clean(action_get("set-attribute"), {"name": "x" * 200, "value": "1"}, alice)
    assert "name" in caught.value.message_dict
    assert not BulkJob.objects.exists()


def test_mark_lost_then_found_and_found_refuses_what_was_not_lost(alice, drills):
    job = run(alice, "mark-lost", drills[:2], {"reward": "A coffee"})
    assert job.done_count == 2
    drills[0].refresh_from_db()
    assert drills[0].lost and drills[0].lost_reward == "A coffee"
    job = run(alice, "mark-found", drills[:3])
    assert (job.done_count, job.failed_count) == (2, 1)
    assert reasons(job) == {"Drill 002": "It was not marked lost."}
    drills[0].refresh_from_db()
    assert not drills[0].lost


def test_archive_lists_the_thing_that_refused_and_does_the_others(alice, drills):
    twin_services.twin_set_archived(twin=drills[1], archived=True)
    job = BulkJob.objects.create(
        owner=alice, action="archive", label="Archive", twin_ids=[d.pk for d in drills], total=len(drills)
    )
    job = jobs.job_run(job.pk)
    assert (job.status, job.done_count, job.failed_count) == ("done", 3, 1)
    assert reasons(job) == {"Drill 001": "It is archived already."}
    assert all(d.archived_at for d in type(drills[0]).objects.filter(pk__in=[d.pk for d in drills]))
    back = jobs.job_create(
        owner=alice,
        action=action_get("unarchive"),
        params={},
        selection=Selection.from_params({"archived": "1"}),
    )
    assert back.done_count == 4


def test_a_thing_that_changed_hands_or_was_deactivated_is_a_failure_not_an_error(alice, carol, drills):
    job = BulkJob.objects.create(
        owner=alice, action="mark-lost", label="Mark lost", twin_ids=[d.pk for d in drills[:3]], total=3
    )
    type(drills[0]).objects.filter(pk=drills[0].pk).update(owner=carol)
    twin_services.twin_deactivate(twin=drills[1])
    job = jobs.job_run(job.pk)
    assert (job.done_count, job.failed_count) == (1, 2)
    assert reasons(job) == {
        "Drill 000": "This thing is no longer yours: nothing was changed.",
        "Drill 001": "This thing is deactivated: it can no longer change.",
    }
    drills[0].refresh_from_db()
    assert not drills[0].lost


def test_an_unexpected_error_on_one_thing_rolls_back_that_thing_only(alice, drills, monkeypatch):
    from bulk import builtin

    real = twin_services.twin_set_lost

    def breaks_on_the_second(*, twin, **kwargs):
        real(twin=twin, **kwargs)  # written, then the error: the thing's transaction must roll it back
        if twin.pk == drills[1].pk:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(builtin.services, "twin_set_lost", breaks_on_the_second)
    job = run(alice, "mark-lost", drills[:3])
    assert (job.done_count, job.failed_count) == (2, 1)
    assert reasons(job) == {"Drill 001": "Something went wrong on our side: nothing was changed on this thing."}
    drills[1].refresh_from_db()
    assert not drills[1].lost


@pytest.fixture
def hook(alice):
    return grants.webhook_endpoint_create(owner=alice, label="Insurer", url="http://127.0.0.1:9/hook")[0]


def test_grant_a_data_kind_to_a_party_then_revoke_it(alice, drills, hook):
    grants.grant_create(twin=drills[1], party=hook, kinds=["scans"], by=alice)
    params = {"party": f"endpoint:{hook.pk}", "kinds": ["readings"], "until": ""}
    job = run(alice, "grant", drills[:3], params)
    assert (job.done_count, job.failed_count) == (2, 1)
    assert "already shares with Insurer (webhook)" in reasons(job)["Drill 001"]
    assert job.params == {"party": f"endpoint:{hook.pk}", "kinds": ["readings"], "expires_at": None}
    now = timezone.now()
    assert set(Grant.objects.active(now).filter(endpoint=hook).values_list("twin__name", flat=True)) == {
        "Drill 000",
        "Drill 001",
        "Drill 002",
    }
    job = run(alice, "revoke", drills, {"party": f"endpoint:{hook.pk}"})
    assert (job.done_count, job.failed_count) == (3, 1)
    assert reasons(job) == {"Drill 003": "It shares nothing with Insurer (webhook): nothing to revoke."}
    assert not Grant.objects.active(timezone.now()).filter(endpoint=hook).exists()


def test_grant_offers_only_the_owners_parties(alice, carol, drills, hook):
    carols = grants.webhook_endpoint_create(owner=carol, label="Carol's", url="http://127.0.0.1:9/c")[0]
    with pytest.raises(ValidationError) as caught:
        jobs.params_clean(action_get("grant"), {"party": f"endpoint:{carols.pk}", "kinds": ["readings"]}, alice)
    assert "party" in caught.value.message_dict
    with pytest.raises(ValidationError):
        jobs.params_clean(action_get("grant"), {"party": f"endpoint:{hook.pk}"}, alice)  # no kind chosen
    assert not Grant.objects.exists()
