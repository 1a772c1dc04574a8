"""The progress WebSocket in a shared project: members listen, outsiders are
refused, and a member removed from the project loses an open socket at once,
without waiting for its next event."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from projects import sharing
from rendering.events import publish
from tests.rendering.test_consumers import _listen, session_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """As in test_consumers: who may listen, in this process (the Redis layer
    runs end to end in the browser test)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.mark.parametrize("who, allowed", [("alice", True), ("bob", True), ("charlie", True), ("dave", False)])
def test_batch_socket_per_role(who, allowed, world, request):
    headers = session_headers(request.getfixturevalue(who))

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{world.running_batch.pk}/", headers)
        if not allowed:
            return None, await communicator.receive_output(timeout=5)
        closed = await communicator.receive_nothing(timeout=0.1)
        await sync_to_async(publish)(world.running)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return closed, event

    first, second = async_to_sync(scenario)()
    if allowed:
        assert first is True and second["render"] == world.running.pk
    else:
        assert second == {"type": "websocket.close", "code": 4404}


def test_removing_bob_closes_his_open_socket_at_once(world, alice, bob):
    headers = session_headers(bob)

    async def scenario():
        batch_socket, connected, _ = await _listen(f"/ws/batches/{world.running_batch.pk}/", headers)
        dashboard, dash_connected, _ = await _listen("/ws/progress/", headers)
        assert connected and dash_connected
        await sync_to_async(publish)(world.running)
        before = await batch_socket.receive_json_from(timeout=5)
        on_dashboard = await dashboard.receive_json_from(timeout=5)
        await sync_to_async(sharing.set_role)(world.project, bob, "none", alice)
        # No progress event is sent: the removal alone closes the socket.
        closed = await batch_socket.receive_output(timeout=5)
        await sync_to_async(publish)(world.running)
        nothing_on_dashboard = await dashboard.receive_nothing(timeout=0.5)
        await dashboard.disconnect()
        return before, on_dashboard, closed, nothing_on_dashboard

    before, on_dashboard, closed, nothing_on_dashboard = async_to_sync(scenario)()
    assert before["render"] == world.running.pk and on_dashboard["render"] == world.running.pk
    assert closed == {"type": "websocket.close", "code": 4404}
    assert nothing_on_dashboard


def test_a_role_change_keeps_the_socket_open(world, alice, charlie):
    headers = session_headers(charlie)

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{world.running_batch.pk}/", headers)
        assert connected
        await sync_to_async(sharing.set_role)(world.project, charlie, "editor", alice)
        await sync_to_async(publish)(world.running)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)()["render"] == world.running.pk
