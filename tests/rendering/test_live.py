"""The real thing: a worker process and daphne started by the test, Redis
as queue and channel layer, a WebSocket client watching the batch page's
socket while the worker renders."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rendering import services
from rendering.models import Status
from tests import mediafactory
from tests.conftest import FIXTURES
from tests.processes import start_worker, stop
from tests.rendering.helpers import add_asset, start_batch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def worker_log(tmp_path):
    return tmp_path / "worker.log"


@pytest.fixture
def long_clip(tmp_path):
    # 12 fps keeps the frame count (and the test) small while a render lasts long enough to interrupt.
    return mediafactory.make_face_clip(tmp_path / "long take.mp4", seconds=2.0, fps=12, size=(256, 192))


def socket(port, path, user):
    client = Client()
    client.force_login(user)
    return connect(
        f"ws://127.0.0.1:{port}{path}",
        additional_headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=10,
    )


def read_until(ws, predicate, timeout=180):
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        events.append(event)
        if predicate(event, events):
            return events
    raise AssertionError(f"no matching event in {timeout} s; got {events[-5:]}")


def test_worker_renders_while_the_page_watches(alice, bob, project, long_clip, face_jpg, daphne, model_dir, worker_log):
    audio = add_asset(project, FIXTURES / "speech_en_16k.wav")
    first = add_asset(project, long_clip)
    second = add_asset(project, face_jpg)
    worker = start_worker(model_dir=model_dir, log_path=worker_log)
    try:
        with socket(daphne.port, "/ws/progress/", bob) as spy:
            with socket(daphne.port, f"/ws/batches/{start_batch(alice, project, audio, [first, second]).pk}/", alice) as ws:
                batch = project.batches.get()
                one, two = batch.renders.order_by("position")
                events = read_until(ws, lambda e, _: e["render"] == one.pk and e["stage"] == "infer" and e["done"] > 0)
                assert services.cancel_render(one)
                events += read_until(ws, lambda e, _: e["render"] == two.pk and e["status"] == "succeeded")
            with pytest.raises(TimeoutError):
                spy.recv(timeout=0.5)  # bob's own feed saw nothing of alice's batch
    finally:
        stop(worker)

    mine = [e for e in events if e["render"] == one.pk]
    theirs = [e for e in events if e["render"] == two.pk]
    assert {e["batch"] for e in events} == {batch.pk}
    assert "cancelled" in [e["status"] for e in mine]
    assert [e["stage"] for e in theirs if e["status"] == "running"][-1] in ("infer", "encode", "store")
    done = [e["done"] for e in theirs if e["stage"] == "infer"]
    assert done == sorted(done) and len(done) >= 2
    assert theirs[-1]["status"] == "succeeded" and theirs[-1]["done"] == theirs[-1]["total"] >= done[-1]
    assert all(set(e) >= {"type", "batch", "render", "status", "stage", "done", "total", "fps", "eta_s", "message"}
               for e in events)

    one.refresh_from_db()
    two.refresh_from_db()
    assert one.status == Status.CANCELLED and not one.output
    assert two.status == Status.SUCCEEDED and two.output and two.output_size > 0
    assert not list(Path(os.environ["HEYGEM_VAR_DIR"], "scratch").glob(f"render-{one.pk}-*"))


def test_bob_cannot_open_alices_socket_through_daphne(alice, bob, project, face_clip, short_speech, daphne):
    batch = start_batch(alice, project, add_asset(project, short_speech), [add_asset(project, face_clip)])
    with socket(daphne.port, f"/ws/batches/{batch.pk}/", bob) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4404


def test_killed_worker_marks_the_item_failed(alice, project, long_clip, daphne, model_dir, worker_log):
    audio = add_asset(project, FIXTURES / "speech_en_16k.wav")
    batch = start_batch(alice, project, audio, [add_asset(project, long_clip)])
    render = batch.renders.get()
    # A dead worker is found within ~11 s instead of ~50 s (the defaults): same code path, shorter waits.
    fast_death = {"HEYGEM_WORKER_HEARTBEAT_S": "1", "HEYGEM_WORKER_LOST_AFTER_S": "8", "HEYGEM_RECONCILE_EVERY_S": "3"}
    worker = start_worker(model_dir=model_dir, log_path=worker_log, **fast_death)
    replacement = None
    try:
        with socket(daphne.port, f"/ws/batches/{batch.pk}/", alice) as ws:
            read_until(ws, lambda e, _: e["status"] == "running" and e["done"] > 0)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            killed_at = time.monotonic()
            # As systemd (Restart=always) or `make run` would: a new worker comes up.
            replacement = start_worker(model_dir=model_dir, log_path=worker_log, **fast_death)
            events = read_until(ws, lambda e, _: e["status"] == "failed", timeout=120)
            assert time.monotonic() - killed_at < 120
    finally:
        stop(worker)
        if replacement:
            stop(replacement)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "worker_lost")
    assert events[-1]["render"] == render.pk
    assert not render.output
    assert not list(Path(os.environ["HEYGEM_VAR_DIR"], "scratch").glob(f"render-{render.pk}-*"))
