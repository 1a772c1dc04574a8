"""The worker's side of the media limits and of cancel: real rq worker (burst,
in this process), real Redis, random-weight checkpoint."""

import threading
import time

import pytest

from rendering import services
from rendering.models import Render, Stage, Status
from rendering.worker import run_worker
from tests import bombs
from tests.rendering.helpers import add_asset, start_batch, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_inputs_uploaded_before_the_limits_are_refused_by_the_worker(alice, project, audio, video, settings, model_dir):
    batch = start_batch(alice, project, audio, [video])
    settings.HEYGEM_MAX_FPS = 24  # lowered after the upload
    run_worker(["gpu"], burst=True)
    render = batch.renders.get()
    assert render.status == Status.FAILED and render.error_code == "media_over_limit"
    assert "over this server's media limits" in render.error_display  # in the member's language
    assert render.message.endswith("has 25 frames per second; the limit is 24.")  # the figures, in the log too
    assert "has 25 frames per second; the limit is 24." in render.log

    settings.HEYGEM_MAX_FPS, settings.HEYGEM_MAX_MEDIA_SECONDS = 120, 1
    batch = start_batch(alice, project, audio, [video])
    run_worker(["gpu"], burst=True)
    render = batch.renders.get()
    assert render.status == Status.FAILED and render.error_code == "media_over_limit"
    assert render.message.endswith("is 0:00:02 long; the limit is 0:00:01.")


def test_cancel_while_the_worker_reads_the_audio_stops_it_within_seconds(alice, project, video, tmp_path, model_dir):
    # An hour of silence (the longest allowed): reading it takes the worker many seconds.
    audio = add_asset(project, bombs.silent_flac(tmp_path / "hour.flac", seconds=3600))
    batch = start_batch(alice, project, audio, [video])
    render = batch.renders.get()
    cancelled_at = []

    def cancel_while_reading() -> None:
        wait_until(
            lambda: Render.objects.filter(pk=render.pk, status=Status.RUNNING, stage=Stage.AUDIO).exists(),
            interval=0.05,
        )
        time.sleep(0.5)
        assert services.cancel_render(render)
        cancelled_at.append(time.monotonic())

    canceller = threading.Thread(target=cancel_while_reading)
    canceller.start()
    run_worker(["gpu"], burst=True)
    finished = time.monotonic()
    canceller.join()
    render.refresh_from_db()
    assert render.status == Status.CANCELLED
    assert finished - cancelled_at[0] < 3
    assert render.log.rstrip().endswith("Cancelled.")
