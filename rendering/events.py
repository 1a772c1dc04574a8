"""Sending progress events to the Channels groups ``batch.<id>`` and ``user.<id>``."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from rendering.models import RenderBatch

log = logging.getLogger(__name__)


def batch_group(batch_id: int) -> str:
    return f"batch.{batch_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(render, message: str = "") -> None:
    """Best effort: the database row is the truth, a lost event only delays
    the live page until its next event or reload.

    The dashboard event goes to the owner of the batch's project *now* (read
    from the database, not from the render object a worker has held since the
    render started), so a project given to another member takes its live
    progress with it."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = render.event(message)
    try:
        owner_id = RenderBatch.objects.filter(pk=render.batch_id).values_list("project__owner_id", flat=True).first()
        send = async_to_sync(layer.group_send)
        send(batch_group(render.batch_id), payload)
        if owner_id is not None:
            send(user_group(owner_id), payload)
    except Exception:  # Redis or the database briefly away: never fail a render over an event
        log.warning("progress event not sent", extra={"render_id": render.pk}, exc_info=True)
