"""Several machines, played on loopback: a web process (daphne) and two
worker processes, each with its own HEYGEM_VAR_DIR (no media path shared with
the web or with each other), sharing only the database, Redis and a real S3
server (moto_server). What a deployment with GPU workers on other machines
relies on."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket as sockets
import subprocess
import time
import wave
import zipfile
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.urls import reverse

from rendering import ops
from rendering.models import Render, Status
from tests import mediafactory
from tests.processes import ROOT, python, spawn, start_daphne, stop, worker_env
from tests.rendering.helpers import add_asset, start_batch, wait_until
from tests.rendering.test_live import read_until
from tests.rendering.test_live import socket as websocket
from tests.s3.conftest import keys, s3_env
from tests.test_streaming import CSRF, MAX_GROWTH, MiB, PeakRSS, session_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


# A dead worker is found within ~11 s instead of ~50 s (the defaults): the
# same code path, shorter waits (rendering/heartbeat.py, rendering/worker.py).
FAST_DEATH = {"HEYGEM_WORKER_HEARTBEAT_S": "1", "HEYGEM_WORKER_LOST_AFTER_S": "8", "HEYGEM_RECONCILE_EVERY_S": "3"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = worker_env(**extra)
    for name in ("HEYGEM_MEDIA_ROOT", "HEYGEM_SCRATCH_DIR", "HEYGEM_CACHE_DIR"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def machines(s3_server, django_db_setup, django_db_blocker, random_checkpoint, tmp_path_factory):
    """daphne (this machine: the web) and two GPU machines' workers."""
    root = tmp_path_factory.mktemp("machines")
    models = root / "models"
    models.mkdir()
    (models / random_checkpoint.name).write_bytes(random_checkpoint.read_bytes())
    with django_db_blocker.unblock():
        # Not waited for yet: it starts while the workers load their models.
        web = start_daphne(root / "web.log", _clean_env(**s3_env(s3_server, HEYGEM_S3_DOWNLOADS="proxy")), wait=False)
        workers = {}
        for n in (1, 2):
            var = root / f"gpu-machine-{n}"
            env = _clean_env(**s3_env(s3_server), HEYGEM_VAR_DIR=str(var), HEYGEM_MODEL_DIR=str(models),
                             HEYGEM_RENDER_RETRIES="1", OMP_NUM_THREADS="1", **FAST_DEATH)
            proc = spawn([python(), "manage.py", "renderworker", "--queues", "gpu", "default", "--device", "cpu"],
                         cwd=ROOT, env=env, stdout=(root / f"worker-{n}.log").open("wb"), stderr=subprocess.STDOUT)
            workers[f"{sockets.gethostname()}.cpu.{proc.pid}"] = (proc, var)
    try:
        web.wait_ready()
        # Both engines loaded before work arrives: both workers take items.
        wait_until(lambda: {w["name"] for w in ops.workers() if w["model_loaded"]} >= set(workers), timeout=180)
        yield {"port": web.port, "base": web.url, "workers": workers, "logs": root}
    finally:
        web.stop()
        for proc, _var in workers.values():
            stop(proc)


@pytest.fixture(scope="module")
def voice(short_speech, tmp_path_factory):
    """0.6 s of speech: few frames per render (the random model on a CPU is the cost here)."""
    return mediafactory.cut_audio(short_speech, tmp_path_factory.mktemp("voice") / "voice.wav", 0.6)


def test_two_workers_drain_a_batch_through_the_bucket(machines, bucket, alice, project, voice, tmp_path):
    audio = add_asset(project, voice)
    videos = [
        add_asset(project, mediafactory.make_face_clip(tmp_path / f"take {n}.mp4", seconds=1.0, fps=12 + n,
                                                       size=(160, 120)))
        for n in range(6)
    ]
    with websocket(machines["port"], "/ws/progress/", alice) as ws:
        batch = start_batch(alice, project, audio, videos)
        events = read_until(ws, lambda e, seen: sum(x["status"] == "succeeded" for x in seen) == 6, timeout=240)

    renders = list(batch.renders.order_by("position"))
    assert [r.status for r in renders] == [Status.SUCCEEDED] * 6, [r.log for r in renders]
    assert [r.attempts for r in renders] == [1] * 6  # each item rendered exactly once
    names = machines["workers"]
    assert {r.worker_name for r in renders} == set(names)  # both machines worked
    print("render seconds", [r.timings.get("total") for r in renders])
    # Live progress reached the member's socket for every item, from running to done.
    for r in renders:
        seen = [e for e in events if e["render"] == r.pk]
        assert "running" in [e["status"] for e in seen] and seen[-1]["status"] == "succeeded"
        assert seen[-1]["done"] == seen[-1]["total"] > 0
    # Every output is in the bucket, once.
    outputs = keys(bucket, "outputs/")
    assert outputs == {r.output.name: r.output_size for r in renders}
    # The mel was computed once, on one machine; the other took it from the bucket.
    computed = [r for r in renders if "Audio features computed" in r.log]
    assert len(computed) == 1
    shared = [r for r in renders if "reused from the shared cache" in r.log]
    assert shared and {r.worker_name for r in shared} == set(names) - {computed[0].worker_name}
    assert f"cache/mel/{audio.sha256}.npz" in keys(bucket, "cache/")
    # No machine holds inputs or outputs afterwards; the web's media folder is unused.
    for _proc, var in names.values():
        assert not (var / "media").exists()
        # (The last "succeeded" event may arrive a moment before the scratch folder is gone.)
        wait_until(lambda var=var: not list((var / "scratch").rglob("*")), timeout=10)
        assert (var / "cache" / "mel" / f"{audio.sha256}.npz").is_file()
    for name in [audio.file.name, *(v.file.name for v in videos), *(r.output.name for r in renders)]:
        assert not Path(settings.MEDIA_ROOT, name).exists()

    # The zip, from the bucket through the web process.
    zip_path = tmp_path / "batch.zip"
    with session_for(alice).get(machines["base"] + reverse("rendering:batch_zip", args=[batch.pk]), stream=True,
                                timeout=60) as response:
        assert response.status_code == 200
        with zip_path.open("wb") as out:
            for block in response.iter_content(MiB):
                out.write(block)
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        assert sorted(i.file_size for i in archive.infolist()) == sorted(r.output_size for r in renders)


def big_wav(path: Path, size: int) -> str:
    """A valid WAV of about ``size`` bytes (48 kHz stereo noise); returns its sha256."""
    block = os.urandom(MiB)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        for _ in range(size // MiB):
            out.writeframesraw(block)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def upload_body(path: Path, boundary: str = "heygems3testboundary"):
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{CSRF}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        with path.open("rb") as fh:
            while block := fh.read(MiB):
                yield block
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + path.stat().st_size + len(tail), chunks()


def post_upload(port: int, session, project, path: Path) -> dict:
    content_type, length, chunks = upload_body(path)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", reverse("projects:upload", args=[project.pk]), body=chunks, headers={
        "Content-Type": content_type, "Content-Length": str(length), "Accept": "application/json",
        "X-CSRFToken": CSRF, "Cookie": f"csrftoken={CSRF}; sessionid={session.cookies['sessionid']}",
    })
    response = conn.getresponse()
    result = json.loads(response.read())
    conn.close()
    assert response.status == 200 and result["files"][0]["ok"], result
    return result


def test_a_300_mb_round_trip_through_the_bucket_keeps_the_web_process_flat(machines, bucket, alice, project,
                                                                         short_speech, tmp_path):
    source = tmp_path / "long lecture.wav"
    digest = big_wav(source, 300 * MiB)
    session = session_for(alice)
    web = next(p for p in psutil.process_iter(["cmdline"])
               if "heygem_site.webserver" in (p.info["cmdline"] or []) and str(machines["port"]) in p.info["cmdline"])
    # Warm up (the first upload loads the media and S3 libraries) before the baseline.
    post_upload(machines["port"], session, project, short_speech)
    with PeakRSS(web.pid) as upload_rss:
        post_upload(machines["port"], session, project, source)
    asset = project.assets.get(original_name=source.name)
    head = bucket.head_object(Bucket="heygem-test", Key=asset.file.name)
    assert head["ContentLength"] == source.stat().st_size
    assert "-" in head["ETag"]  # went up in parts

    url = machines["base"] + reverse("projects:asset_file", args=[asset.pk])
    received = hashlib.sha256()
    with PeakRSS(web.pid) as download_rss, session.get(url, stream=True, timeout=300) as got:
        assert got.status_code == 200
        for block in got.iter_content(MiB):
            received.update(block)
    assert received.hexdigest() == digest
    print(f"300 MiB via S3: upload RSS growth {upload_rss.growth / MiB:.1f} MiB, "
          f"download {download_rss.growth / MiB:.1f} MiB")
    assert upload_rss.growth < MAX_GROWTH, f"daphne grew by {upload_rss.growth / MiB:.0f} MiB on the upload"
    assert download_rss.growth < MAX_GROWTH, f"daphne grew by {download_rss.growth / MiB:.0f} MiB on the download"


def test_a_killed_worker_s_item_is_retried_by_the_other_within_a_minute(machines, bucket, alice, project,
                                                                        short_speech, tmp_path):
    audio = add_asset(project, short_speech)  # 1.2 s: long enough to be killed mid-render
    clip = add_asset(project, mediafactory.make_face_clip(tmp_path / "long take.mp4", seconds=2.0, fps=12,
                                                          size=(256, 192)))
    batch = start_batch(alice, project, audio, [clip])
    render = batch.renders.get()
    with websocket(machines["port"], f"/ws/batches/{batch.pk}/", alice) as ws:
        read_until(ws, lambda e, _: e["status"] == "running" and e["done"] > 0)
        render.refresh_from_db()
        victim, _var = machines["workers"][render.worker_name]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        read_until(ws, lambda e, _: e["status"] == "queued", timeout=90)
        requeued_after = time.monotonic() - killed_at
        events = read_until(ws, lambda e, _: e["status"] in ("succeeded", "failed"), timeout=120)
    print(f"killed worker's item queued again after {requeued_after:.0f} s")
    assert requeued_after < 60
    render.refresh_from_db()
    assert events[-1]["status"] == "succeeded" and render.status == Status.SUCCEEDED, render.log
    assert render.attempts == 2 and "Worker lost; queued again." in render.log
    survivor = set(machines["workers"]) - {f"{sockets.gethostname()}.cpu.{victim.pid}"}
    assert render.worker_name in survivor
    # One output for the item, none left half-written by the killed worker.
    mine = {k for k in keys(bucket, "outputs/") if f"/{render.pk}-" in k}
    assert mine == {render.output.name}
    assert Render.objects.filter(status=Status.RUNNING).count() == 0
