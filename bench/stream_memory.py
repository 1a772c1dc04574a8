"""Peak web-process memory while big files go through it (issue 9).

Starts the web process as `make run` does (`python -m heygem_site.webserver`)
on a private var/ folder, then measures its peak RSS growth over the idle,
warmed-up level:

1. three clients download the zip of a batch with three 1 GB outputs at once
   (3 x 3 GB through the process), and
2. one client uploads a 1 GB file to a project.

Target: under 64 MiB each. Usage: python bench/stream_memory.py [--gb 1]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAR_DIR = tempfile.mkdtemp(prefix="heygem-bench-")  # removed at the end (the outputs are sparse)
os.environ["HEYGEM_VAR_DIR"] = VAR_DIR
os.environ["DJANGO_SETTINGS_MODULE"] = "heygem_site.test_settings"  # private var/, embedded Redis

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

MiB = 1024 * 1024
TARGET = 64 * MiB
CSRF = "benchmark" * 3 + "token"  # 32 letters: a well-formed CSRF token


class PeakRSS:
    def __init__(self, pid: int) -> None:
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def free_port() -> int:
    from heygem_site.embedded_redis import free_port as pick

    return pick()


def sparse_output(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(os.urandom(MiB))
        fh.truncate(size)


def setup(size: int):
    """alice, her project and a batch whose three renders have `size`-byte outputs."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from projects.models import Project, default_render_settings
    from projects.uploads import ingest
    from rendering import services
    from rendering.models import Status
    from tests import mediafactory as mf

    call_command("migrate", interactive=False, verbosity=0)
    alice = get_user_model().objects.create_user("alice", password="bench-pass-123")
    project = Project.objects.create(owner=alice, name="Bench")
    media = Path(VAR_DIR) / "bench-media"
    media.mkdir(exist_ok=True)
    clip = mf.make_face_clip(media / "presenter.mp4", seconds=1.0, fps=25, size=(320, 240))
    audio = ingest(project, SimpleUploadedFile("speech.wav", (ROOT / "tests/fixtures/speech_en_16k.wav").read_bytes()))
    video = ingest(project, SimpleUploadedFile("presenter.mp4", clip.read_bytes()))
    batch = services.create_batch(
        alice, project, "Bench", audio.asset, [services.Item(video.asset)] * 3, default_render_settings()
    )
    for render in batch.renders.all():
        render.output.name = f"outputs/bench/{render.pk}.mp4"
        sparse_output(Path(settings.MEDIA_ROOT) / render.output.name, size)
        render.status, render.output_size, render.finished_at = Status.SUCCEEDED, size, timezone.now()
        render.save()
    client = Client()
    client.force_login(alice)
    return project, batch, client.cookies["sessionid"].value


def get(port: int, path: str, session: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers={"Cookie": f"sessionid={session}"})
    response = conn.getresponse()
    expected, got = int(response.headers["Content-Length"]), 0
    while block := response.read(MiB):
        got += len(block)
    conn.close()
    assert response.status == 200 and got == expected, (response.status, got, expected)
    return got


def upload(port: int, path: str, session: str, size: int) -> int:
    boundary = "heygembenchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{CSRF}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="noise.bin"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MiB)

    def body():
        yield head
        for _ in range(size // MiB):
            yield block
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        path,
        body=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size // MiB * MiB + len(tail)),
            "Accept": "application/json",
            "X-CSRFToken": CSRF,
            "Cookie": f"csrftoken={CSRF}; sessionid={session}",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="size of each output and of the upload")
    args, _ = parser.parse_known_args()
    size = int(args.gb * 1024) * MiB
    project, batch, session = setup(size)
    port = free_port()
    env = dict(os.environ, HEYGEM_MAX_UPLOAD_MB=str(size // MiB + 1))
    log = open(Path(VAR_DIR) / "web.log", "wb")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heygem_site.webserver",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "heygem_site.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    failed = False
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the web process did not start"
                time.sleep(0.3)
        zip_path = reverse("rendering:batch_zip", args=[batch.pk])
        file_path = reverse("rendering:render_file", args=[batch.renders.first().pk])
        get(port, file_path, session)  # warm up: imports, thread pools, database connection
        assert upload(port, reverse("projects:upload", args=[project.pk]), session, MiB) == 200

        with PeakRSS(web.pid) as rss, ThreadPoolExecutor(3) as pool:
            started = time.monotonic()
            total = sum(pool.map(lambda _: get(port, zip_path, session), range(3)))
            elapsed = time.monotonic() - started
        print(
            f"3 concurrent zips of 3 x {args.gb:g} GB ({total / 1024**3:.1f} GiB sent in {elapsed:.0f} s): "
            f"peak RSS growth {rss.growth / MiB:.1f} MiB (target < {TARGET // MiB} MiB)"
        )
        failed |= rss.growth >= TARGET

        with PeakRSS(web.pid) as rss:
            started = time.monotonic()
            status = upload(port, reverse("projects:upload", args=[project.pk]), session, size)
            elapsed = time.monotonic() - started
        print(
            f"{args.gb:g} GB upload (HTTP {status}, {elapsed:.0f} s): "
            f"peak RSS growth {rss.growth / MiB:.1f} MiB (target < {TARGET // MiB} MiB)"
        )
        failed |= status != 200 or rss.growth >= TARGET
    finally:
        web.terminate()
        web.wait(15)
        shutil.rmtree(VAR_DIR, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
