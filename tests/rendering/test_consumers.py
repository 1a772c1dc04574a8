"""The progress WebSocket: only the owner (or staff) may listen to a batch."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from heygem_site.asgi import application
from rendering.events import publish
from tests.rendering.helpers import add_asset, start_batch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """These tests are about who may listen, in this process. A socket the
    consumer closed stays open on the test's side, and asyncio.run cancels it
    when the scenario ends; a channels-redis receive cancelled that way now
    and then never finishes, and the test hangs. The Redis channel layer is
    exercised end to end by real daphne processes (test_live, test_nginx,
    test_runplatform's Redis drill)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def session_headers(user=None):
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


@pytest.fixture
def batch(alice, project, short_speech, face_clip):
    audio = add_asset(project, short_speech)
    video = add_asset(project, face_clip)
    return start_batch(alice, project, audio, [video])


async def _listen(path, headers):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_owner_receives_progress(alice, batch):
    headers = session_headers(alice)

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{batch.pk}/", headers)
        assert connected
        render = await sync_to_async(batch.renders.select_related("batch").get)()
        render.status, render.stage, render.frames_done, render.frames_total = "running", "infer", 10, 30
        await sync_to_async(publish)(render)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event, render

    event, render = async_to_sync(scenario)()
    assert event == {
        "type": "render.progress", "batch": batch.pk, "render": render.pk, "status": "running", "stage": "infer",
        "done": 10, "total": 30, "progress": 0.0, "fps": None, "eta_s": None, "message": "",
    }


def test_dashboard_socket_gets_all_of_the_users_events(alice, batch):
    headers = session_headers(alice)

    async def scenario():
        communicator, connected, _ = await _listen("/ws/progress/", headers)
        assert connected
        render = await sync_to_async(batch.renders.select_related("batch").get)()
        await sync_to_async(publish)(render)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)()["batch"] == batch.pk


def test_another_user_cannot_subscribe(bob, batch):
    headers = session_headers(bob)

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{batch.pk}/", headers)
        closed = await communicator.receive_output(timeout=5)
        render = await sync_to_async(batch.renders.select_related("batch").get)()
        await sync_to_async(publish)(render)
        leaked = await communicator.receive_nothing(timeout=0.5)
        return closed, leaked

    closed, nothing_leaked = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4404}
    assert nothing_leaked


def test_unknown_batch_is_not_found(alice, batch):
    headers = session_headers(alice)

    async def scenario():
        communicator, _, _ = await _listen(f"/ws/batches/{batch.pk + 1000}/", headers)
        return await communicator.receive_output(timeout=5)

    assert async_to_sync(scenario)()["code"] == 4404


def test_anonymous_is_refused(batch):
    async def scenario():
        communicator, _, _ = await _listen(f"/ws/batches/{batch.pk}/", session_headers(None))
        return await communicator.receive_output(timeout=5)

    assert async_to_sync(scenario)()["code"] == 4401


def test_staff_may_watch(staff, batch):
    headers = session_headers(staff)

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{batch.pk}/", headers)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)()


# --- access follows the project ------------------------------------------------------


def give_project_to(project, user) -> None:
    project.owner = user
    project.save()


def test_after_a_project_moves_the_old_owner_cannot_subscribe(alice, bob, batch):
    give_project_to(batch.project, bob)
    headers = session_headers(alice)

    async def scenario():
        communicator, _, _ = await _listen(f"/ws/batches/{batch.pk}/", headers)
        return await communicator.receive_output(timeout=5)

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": 4404}


def test_an_open_batch_socket_closes_when_the_project_moves(alice, bob, batch):
    headers = session_headers(alice)

    async def scenario():
        communicator, connected, _ = await _listen(f"/ws/batches/{batch.pk}/", headers)
        assert connected
        render = await sync_to_async(batch.renders.select_related("batch").get)()
        await sync_to_async(publish)(render)
        before = await communicator.receive_json_from(timeout=5)
        await sync_to_async(give_project_to)(batch.project, bob)
        await sync_to_async(publish)(render)
        after = await communicator.receive_output(timeout=5)
        return before, after

    before, after = async_to_sync(scenario)()
    assert before["render"] and after == {"type": "websocket.close", "code": 4404}


def test_dashboard_stream_follows_the_project(alice, bob, batch):
    give_project_to(batch.project, bob)
    alice_headers, bob_headers = session_headers(alice), session_headers(bob)

    async def scenario():
        old, old_connected, _ = await _listen("/ws/progress/", alice_headers)
        new, new_connected, _ = await _listen("/ws/progress/", bob_headers)
        assert old_connected and new_connected
        render = await sync_to_async(batch.renders.select_related("batch").get)()
        await sync_to_async(publish)(render)
        received = await new.receive_json_from(timeout=5)
        nothing_for_alice = await old.receive_nothing(timeout=0.5)
        await old.disconnect()
        await new.disconnect()
        return received, nothing_for_alice

    received, nothing_for_alice = async_to_sync(scenario)()
    assert received["batch"] == batch.pk
    assert nothing_for_alice
