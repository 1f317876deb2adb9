"""Background work for owners: email delivery runs in the task worker, never in a request."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task
from django.utils import timezone

from owners.time_zones import owner_time


@task()
def send_notification_email(notification_id: int) -> None:
    """Email a notification to its owner, once it is committed.

    At least once, never twice after a completed run: the worker may run this again after a crash at any point
    (core.worker recovers tasks whose worker died), so the notification records when its email went out
    (`emailed_at`) and a run finding it set sends nothing. SMTP and the database cannot commit together, so one
    window stays: a crash between the server's acceptance and the marker's write sends the email again. The
    message then carries the same Message-ID, by which mail clients fold the two. Losing an owner's message (a
    finder's note about a lost thing) is worse than a rare duplicate, hence the marker after the send, not before.
    """
    from owners.models import Notification

    item = Notification.objects.select_related("owner", "twin").filter(pk=notification_id).first()
    if item is None or not item.owner.email or item.emailed_at is not None:
        return
    # When, in the owner's own time zone (an email has no browser to ask; UTC, said so, when they set none).
    lines = [item.body or item.title, "", f"When: {owner_time(item.owner, item.created_at)}"]
    if item.sender_name or item.sender_contact:
        lines.append(f"From: {item.sender_name or 'a finder'} {item.sender_contact}".strip())
    lines.append(f"Open your inbox: {settings.SITE_URL}/inbox/")
    EmailMessage(
        subject=f"[Thingstead] {item.title}",
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[item.owner.email],
        headers={"Message-ID": _message_id(item)},
    ).send()
    Notification.objects.filter(pk=item.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())


def _message_id(item) -> str:
    """The same for every attempt at one notification's email (RFC 5322 msg-id: unique left part @ our domain)."""
    domain = urlsplit(settings.SITE_URL).hostname or "thingstead.localhost"
    return f"<notification-{item.pk}.{int(item.created_at.timestamp())}@{domain}>"
