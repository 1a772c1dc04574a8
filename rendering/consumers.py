"""Live progress over WebSocket.

`/ws/batches/<id>/` streams the events of one batch; `/ws/progress/` the
events of every project the logged-in user owns or is a member of (the
dashboard). The consumer
checks the session and access to the batch's project *before* joining a group:
an anonymous visitor is closed with 4401, a batch the user may not see with
4404 (like the 404 of the batch page). A batch subscription re-checks access
before it forwards each event, so a socket opened before staff gave the project
to someone else is closed with 4404 at the next event. Every socket also
joins the member's ``member.<user id>`` group: when a member is removed from
a project (or it is given away), projects.sharing sends "access.changed"
there and a batch socket that may no longer see its batch is closed with 4404
at once, not only at its next event. The dashboard stream needs no re-check:
events.publish addresses it to the project's current owner and members.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from rendering.access import batches_for
from rendering.events import batch_group, member_group, user_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    member: str | None = None
    batch_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        batch_id = self.scope["url_route"]["kwargs"].get("batch_id")
        if batch_id is None:
            self.group = user_group(user.pk)
        elif await self._may_see(int(batch_id)):
            self.batch_id = int(batch_id)
            self.group = batch_group(self.batch_id)
        else:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.member = member_group(user.pk)
        await self.channel_layer.group_add(self.member, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def render_progress(self, event: dict) -> None:
        if self.batch_id is not None and not await self._may_see(self.batch_id):
            await self._leave()  # no further events while the close goes out
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(event)

    async def access_changed(self, event: dict) -> None:
        if self.batch_id is not None and not await self._may_see(self.batch_id):
            await self._leave()
            await self.close(code=CLOSE_NOT_FOUND)

    async def receive_json(self, content, **kwargs) -> None:
        # Clients only listen; anything they send is ignored.
        return

    async def _leave(self) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        if self.member:
            await self.channel_layer.group_discard(self.member, self.channel_name)
            self.member = None

    @database_sync_to_async
    def _may_see(self, batch_id: int) -> bool:
        # Project ownership is read from the database on every call.
        return batches_for(self.scope["user"]).filter(pk=batch_id).exists()
