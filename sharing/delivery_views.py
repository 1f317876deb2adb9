"""The delivery log's one write: the owner puts failed notifications (the dead letter) back for delivery."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import error_response
from sharing.replay import outbox_replay, replayable
from twins.models import Twin


@login_required
@require_POST
def thing_deliveries_replay(request: HttpRequest, slug: str) -> HttpResponse:
    """Replay the failed notification ``message_id`` (a form field) of one of the owner's things, or, without
    one, every failed notification of the thing. Someone else's thing is a 404; a message id that is not one
    of the thing's failed notifications replays nothing and says so."""
    twin = get_object_or_404(Twin, slug=slug, owner=request.user)
    failed = replayable(by=request.user).filter(twin=twin)
    raw = request.POST.get("message_id", "").strip()
    if raw:
        try:
            failed = failed.filter(message_id=uuid.UUID(raw))
        except ValueError:
            return error_response(request, 400, "message_id is the notification's id, as the delivery log shows it")
    replayed = outbox_replay(items=list(failed.values_list("id", flat=True)[:10_000]), by=request.user)
    if replayed:
        messages.success(
            request, f"{len(replayed)} failed notification(s) will be sent again, each with its original id."
        )
    else:
        messages.info(request, "Nothing to send again: only failed notifications can be.")
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("thing-sharing", slug=twin.slug)
