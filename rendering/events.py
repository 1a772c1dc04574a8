"""Sending progress events to the Channels groups ``batch.<id>`` and ``user.<id>``."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from projects.models import Member, Project
from rendering.models import RenderBatch

log = logging.getLogger(__name__)


def batch_group(batch_id: int) -> str:
    return f"batch.{batch_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(render, message: str = "") -> None:
    """Best effort: the database row is the truth, a lost event only delays
    the live page until its next event or reload.

    The dashboard event goes to the owner and the members of the batch's
    project *now* (read from the database, not from the render object a
    worker has held since the render started), so a project given to another
    member, or shared, takes its live progress with it."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = render.event(message)
    try:
        project_id = RenderBatch.objects.filter(pk=render.batch_id).values_list("project_id", flat=True).first()
        send = async_to_sync(layer.group_send)
        send(batch_group(render.batch_id), payload)
        if project_id is not None:
            for user_id in _team_ids(project_id):
                send(user_group(user_id), payload)
    except Exception:  # Redis or the database briefly away: never fail a render over an event
        log.warning("progress event not sent", extra={"render_id": render.pk}, exc_info=True)


def member_group(user_id: int) -> str:
    """Every socket of one member joins it: access changes are sent there."""
    return f"member.{user_id}"


def notify_access_changed(user_id: int, project_id: int) -> None:
    """Best effort, like publish: open sockets of this member re-check their
    access (a removed member's batch socket closes with 4404 at once)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(member_group(user_id), {"type": "access.changed", "project": project_id})
    except Exception:
        log.warning("access change not sent", extra={"user_id": user_id}, exc_info=True)


def _team_ids(project_id: int) -> list[int]:
    owner = list(Project.objects.filter(pk=project_id).values_list("owner_id", flat=True))
    return owner + list(Member.objects.filter(project_id=project_id).values_list("user_id", flat=True))
