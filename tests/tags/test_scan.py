import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from owners.models import Notification
from tags.models import Scan
from tags.services import scan_record
from tags.useragent import coarse_user_agent
from twins.models import Reading

pytestmark = pytest.mark.django_db

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_owner_scan_shows_the_one_box_reading_form(alice_client, grinder_tag):
    response = alice_client.get(grinder_tag.get_absolute_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="value"' in page
    assert 'inputmode="decimal"' in page
    assert "autofocus" in page
    assert "setting" in page
    assert f'action="{reverse("tag-reading", args=[grinder_tag.token])}"' in page
    assert reverse("thing", args=[grinder_tag.twin.slug]) in page
    assert 'name="message"' not in page


def test_saving_via_the_one_box_form_shows_the_reading_on_the_private_page(alice_client, grinder_tag):
    grinder = grinder_tag.twin
    alice_client.get(grinder_tag.get_absolute_url())
    response = alice_client.post(reverse("tag-reading", args=[grinder_tag.token]), {"value": "17.5"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("thing", args=[grinder.slug])
    assert "17.5" in response.content.decode()
    reading = Reading.objects.get(twin=grinder)
    assert reading.value == 17.5 and reading.source == Reading.Source.TAG


def test_stranger_scan_records_a_scan_not_by_the_owner_with_a_coarse_user_agent(anon_client, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url(), HTTP_USER_AGENT=ANDROID_CHROME)
    scan = Scan.objects.get()
    assert scan.tag == grinder_tag and scan.twin == grinder_tag.twin
    assert scan.by_owner is False
    assert scan.user_agent == "Android · Chrome"


def test_owner_scan_is_recorded_as_by_owner_and_does_not_notify(alice_client, alice, grinder_tag):
    alice_client.get(grinder_tag.get_absolute_url(), HTTP_USER_AGENT=IPHONE_SAFARI)
    scan = Scan.objects.get()
    assert scan.by_owner is True and scan.user_agent == "iPhone · Safari"
    assert not Notification.objects.filter(owner=alice).exists()


def test_signed_in_stranger_sees_the_public_page_and_notifies(carol_client, alice, grinder_tag):
    page = carol_client.get(grinder_tag.get_absolute_url()).content.decode()
    assert 'name="message"' in page and 'inputmode="decimal"' not in page
    assert Scan.objects.get().by_owner is False
    assert Notification.objects.get(owner=alice).kind == Notification.Kind.SCAN


def test_ten_reloads_by_a_stranger_make_one_notification_with_count_ten(anon_client, alice, grinder_tag):
    for _ in range(10):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    notification = Notification.objects.get(owner=alice)
    assert notification.kind == Notification.Kind.SCAN
    assert notification.count == 10
    assert Scan.objects.filter(by_owner=False).count() == 10


def test_ten_reloads_without_the_cache_fast_path_still_count_ten(anon_client, alice, grinder_tag):
    for _ in range(10):
        cache.delete(f"owners:scan-notify:{grinder_tag.twin_id}")
        anon_client.get(grinder_tag.get_absolute_url())
    assert Notification.objects.get(owner=alice).count == 10


def test_scan_after_the_notification_was_read_starts_a_new_one(anon_client, alice, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    anon_client.get(grinder_tag.get_absolute_url())
    Notification.objects.filter(owner=alice).update(read_at=timezone.now())
    anon_client.get(grinder_tag.get_absolute_url())
    counts = sorted(Notification.objects.filter(owner=alice).values_list("count", flat=True))
    assert counts == [1, 2]


def test_scan_after_a_transfer_notifies_the_new_owner_not_the_old(anon_client, alice, bob, grinder_tag):
    anon_client.get(grinder_tag.get_absolute_url())
    twin = grinder_tag.twin
    twin.owner = bob
    twin.save()  # as the transfer service does (signals drop the cached public page)
    anon_client.get(grinder_tag.get_absolute_url())
    assert Notification.objects.get(owner=alice).count == 1
    assert Notification.objects.get(owner=bob).count == 1


def test_scan_record_keeps_the_user_agent_short(grinder_tag):
    scan = scan_record(tag=grinder_tag, by_owner=False, user_agent="x" * 500)
    assert len(scan.user_agent) == 60


def test_scans_are_rate_limited_per_client_with_a_readable_429(settings, anon_client, grinder_tag):
    settings.RATE_SCAN_PER_CLIENT = "3/60"
    for _ in range(3):
        assert anon_client.get(grinder_tag.get_absolute_url()).status_code == 200
    response = anon_client.get(grinder_tag.get_absolute_url())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Slow down" in response.content.decode()
    assert Scan.objects.count() == 3
    other = anon_client.get(grinder_tag.get_absolute_url(), REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200


def test_typed_codes_share_the_scan_rate_limit(settings, anon_client, grinder_tag):
    settings.RATE_SCAN_PER_CLIENT = "2/60"
    for _ in range(2):
        anon_client.get(reverse("tag-enter"), {"code": "ZZZZ-ZZZZ"})
    assert anon_client.get(reverse("tag-enter"), {"code": grinder_tag.code}).status_code == 429


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ANDROID_CHROME, "Android · Chrome"),
        (IPHONE_SAFARI, "iPhone · Safari"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", "Windows · Firefox"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Windows · Edge",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Safari/605.1.15",
            "Mac · Safari",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot"),
        ("curl/8.5.0", "Bot"),
        ("", ""),
        ("something odd", ""),
    ],
)
def test_coarse_user_agent(header, expected):
    assert coarse_user_agent(header) == expected
    assert len(coarse_user_agent(header * 10)) <= 60


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_scans_make_one_notification_counting_every_scan(alice, grinder_tag):
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs a server database")
    barrier, errors = threading.Barrier(8), []

    def scan():
        try:
            barrier.wait()
            scan_record(tag=grinder_tag, by_owner=False)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(Notification.objects.filter(owner=alice).values_list("count", flat=True)) == [8]


class _Actor:
    """A thread with its own database connection, doing one step; records its backend's pid and any error."""

    def __init__(self, step, errors: list[Exception]) -> None:
        import threading

        self.step, self.errors, self.pid = step, errors, None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        from django.db import connection

        try:
            connection.ensure_connection()
            self.pid = connection.connection.info.backend_pid
            self.ready.set()
            self.step()
        except Exception as exc:
            self.errors.append(exc)
        finally:
            self.ready.set()
            connection.close()

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(30)

    def waits_for_a_lock(self) -> bool:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", [self.pid])
            row = cursor.fetchone()
        return bool(row and row[0])


def _until(condition, what: str) -> None:
    """Poll until `condition()` holds; fail naming `what` if it never does (not a timing assert: the bound only
    keeps a broken run from hanging)."""
    import time

    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("holder", ["direct scan", "buffered flush"])
def test_a_scan_holding_the_notification_row_never_waits_for_the_twin(monkeypatch, alice, grinder, grinder_tag, holder):
    """The deadlock once seen in a full pass, step by step on PostgreSQL. The holder (a scan, or a flush of
    buffered scans) bumps the notification row on the fast path and has not committed. A history append holds the
    twin FOR UPDATE. A second scan, on the slow path, waits for the twin (FOR NO KEY UPDATE); the history's
    catch-up asks for the twin FOR UPDATE and queues behind it. The holder commits: Django's foreign keys are
    checked at COMMIT, so its first lock on the twin (FOR KEY SHARE) queues behind the catch-up. The append
    commits: the second scan gets the twin and waits for the holder's notification row, the catch-up waits for the
    second scan, the holder for the catch-up: "deadlock detected". Every scan now key-share locks the twin before
    anything else (tags.scans), so the holder never waits for the twin and all of them finish."""
    import threading

    from django.db import connection, transaction

    from owners import services as owner_services
    from tags.history import scans_to_history
    from tags.scans import record_buffered_scans
    from twins import events
    from twins.history import lock_twin

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no row locks; the cycle needs a server database")
    # The fast path's cached id must outlive the steps below on a loaded machine.
    monkeypatch.setattr(owner_services, "SCAN_NOTIFY_FAST_SECONDS", 120)
    scan_record(tag=grinder_tag, by_owner=False)  # the notification exists, its id cached: the fast path is armed

    errors: list[Exception] = []
    holder_paused, holder_go = threading.Event(), threading.Event()
    append_paused, append_go = threading.Event(), threading.Event()

    def pause_the_holder(event: events.ScanRecorded) -> None:
        if threading.current_thread() is holding.thread:
            holder_paused.set()
            holder_go.wait(60)

    def hold() -> None:
        if holder == "direct scan":
            scan_record(tag=grinder_tag, by_owner=False)
        else:
            item = {"tag": grinder_tag.pk, "twin": grinder.pk, "ua": "", "t": timezone.now().isoformat()}
            record_buffered_scans(items=[item, dict(item)])

    def append() -> None:
        with transaction.atomic():
            lock_twin(grinder)
            append_paused.set()
            append_go.wait(60)

    holding = _Actor(hold, errors)
    appending = _Actor(append, errors)
    slow_scan = _Actor(lambda: scan_record(tag=grinder_tag, by_owner=False), errors)
    catch_up = _Actor(lambda: scans_to_history(twin=grinder), errors)
    events.subscribe(events.ScanRecorded, pause_the_holder, in_transaction=True)
    try:
        holding.start()
        _until(holder_paused.is_set, "the holder bumped the notification row")
        appending.start()
        _until(lambda: append_paused.is_set() or appending.waits_for_a_lock(), "the append asked for the twin")
        cache.delete(f"owners:scan-notify:{grinder.pk}")  # the next scan takes the slow path
        slow_scan.start()
        _until(slow_scan.waits_for_a_lock, "the slow path waits")
        catch_up.start()
        _until(catch_up.waits_for_a_lock, "the catch-up waits for the twin")
        holder_go.set()
        _until(lambda: not holding.thread.is_alive() or holding.waits_for_a_lock(), "the holder committed or waits")
        append_go.set()
    finally:
        holder_go.set()
        append_go.set()
        for actor in (holding, appending, slow_scan, catch_up):
            if actor.thread.ident is not None:
                actor.thread.join(60)
        events.unsubscribe(events.ScanRecorded, pause_the_holder)
    assert [str(exc) for exc in errors] == []
    scans = 1 + (1 if holder == "direct scan" else 2) + 1
    assert list(Notification.objects.filter(owner=alice).values_list("count", flat=True)) == [scans]
    assert Scan.objects.filter(twin=grinder).count() == scans


@pytest.mark.django_db(transaction=True)
def test_two_flushes_of_the_same_things_in_opposite_orders_both_finish(alice, grinder, grinder_tag):
    """Two flushes at once (a flush and the periodic backstop, tags.scan_buffer.flush_stranded), each a batch of
    first scans of two things, buffered in opposite orders: each takes the things' locks for the notification's
    slow path (FOR NO KEY UPDATE) in primary-key order, not in the batch's order, else each would hold one thing
    and wait for the other's: "deadlock detected"."""
    import threading

    from django.db import connection

    from tags.models import Tag
    from tags.scans import record_buffered_scans
    from twins import events
    from twins import services as twin_services

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no row locks; the cycle needs a server database")
    kettle = twin_services.twin_create(owner=alice, name="Kettle")
    kettle_tag = Tag.objects.create(twin=kettle)

    def item(tag, twin) -> dict:
        return {"tag": tag.pk, "twin": twin.pk, "ua": "", "t": timezone.now().isoformat()}

    errors: list[Exception] = []
    paused = {"first": threading.Event(), "second": threading.Event()}
    go = threading.Event()
    first = _Actor(lambda: record_buffered_scans(items=[item(grinder_tag, grinder), item(kettle_tag, kettle)]), errors)
    second = _Actor(lambda: record_buffered_scans(items=[item(kettle_tag, kettle), item(grinder_tag, grinder)]), errors)

    def pause_after_the_first_thing(event: events.ScanRecorded) -> None:
        for name, actor in (("first", first), ("second", second)):
            if threading.current_thread() is actor.thread and not paused[name].is_set():
                paused[name].set()
                go.wait(60)

    events.subscribe(events.ScanRecorded, pause_after_the_first_thing, in_transaction=True)
    try:
        first.start()
        _until(paused["first"].is_set, "the first flush notified of one thing")
        second.start()
        _until(lambda: paused["second"].is_set() or second.waits_for_a_lock(), "the second flush notified or waits")
    finally:
        go.set()
        for actor in (first, second):
            if actor.thread.ident is not None:
                actor.thread.join(60)
        events.unsubscribe(events.ScanRecorded, pause_after_the_first_thing)
    assert [str(exc) for exc in errors] == []
    assert sorted(Notification.objects.filter(owner=alice).values_list("twin_id", "count")) == sorted(
        [(grinder.pk, 2), (kettle.pk, 2)]
    )
