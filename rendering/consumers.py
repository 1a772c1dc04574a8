"""Live progress over WebSocket.

`/ws/batches/<id>/` streams the events of one batch; `/ws/progress/` every
event of the logged-in user (the dashboard). The consumer checks the session
and ownership *before* joining a group: an anonymous visitor is closed with
4401, another user's batch with 4404 (like the 404 of the batch page).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from rendering.access import batches_for
from rendering.events import batch_group, user_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        batch_id = self.scope["url_route"]["kwargs"].get("batch_id")
        if batch_id is None:
            self.group = user_group(user.pk)
        elif await self._may_see(user, int(batch_id)):
            self.group = batch_group(int(batch_id))
        else:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def render_progress(self, event: dict) -> None:
        await self.send_json(event)

    async def receive_json(self, content, **kwargs) -> None:
        # Clients only listen; anything they send is ignored.
        return

    @database_sync_to_async
    def _may_see(self, user, batch_id: int) -> bool:
        return batches_for(user).filter(pk=batch_id).exists()
