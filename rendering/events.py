"""Sending progress events to the Channels groups ``batch.<id>`` and ``user.<id>``."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def batch_group(batch_id: int) -> str:
    return f"batch.{batch_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish(render, message: str = "") -> None:
    """Best effort: the database row is the truth, a lost event only delays
    the live page until its next event or reload."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = render.event(message)
    owner_id = render.batch.owner_id
    try:
        send = async_to_sync(layer.group_send)
        send(batch_group(render.batch_id), payload)
        send(user_group(owner_id), payload)
    except Exception:  # Redis briefly away: never fail a render over an event
        log.warning("progress event not sent", extra={"render_id": render.pk}, exc_info=True)
