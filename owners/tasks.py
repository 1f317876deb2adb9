"""Background work for owners: email delivery runs in the task worker, never in a request."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task


@task()
def send_notification_email(notification_id: int) -> None:
    from owners.models import Notification

    item = Notification.objects.select_related("owner", "twin").filter(pk=notification_id).first()
    if item is None or not item.owner.email:
        return
    lines = [item.body or item.title, ""]
    if item.sender_name or item.sender_contact:
        lines.append(f"From: {item.sender_name or 'a finder'} {item.sender_contact}".strip())
    lines.append(f"Open your inbox: {settings.SITE_URL}/inbox/")
    send_mail(
        subject=f"[Thingstead] {item.title}",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[item.owner.email],
    )
