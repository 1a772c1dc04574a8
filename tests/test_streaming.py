"""Big downloads and uploads through a real daphne (`python -m heygem_site.webserver`,
as `make run` and the systemd unit start it) while the test samples the web
process's memory: it must not grow with the size of what goes through it."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import select
import socket
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rendering.models import Status
from tests.processes import start_daphne, worker_env
from tests.rendering.helpers import add_asset, start_batch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MiB = 1024 * 1024
OUTPUT_SIZE = 150 * MiB
MAX_GROWTH = 64 * MiB
CSRF = "streamtest" * 3 + "ok"  # any 32 letters or digits pass as a CSRF token


@pytest.fixture
def web(tmp_path):
    with start_daphne(tmp_path / "web.log") as server:
        yield server


class PeakRSS:
    """Samples a process's resident memory in a thread; `growth` is the peak
    over the level when the block started."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def session_for(user) -> requests.Session:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.trust_env = False
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    return session


def write_output(path: Path, size: int) -> str:
    """A sparse file with random bytes at both ends; returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(os.urandom(MiB))
        fh.truncate(size - MiB)
        fh.seek(size - MiB)
        fh.write(os.urandom(MiB))
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


def download(
    session: requests.Session, url: str, target: Path | None = None, headers: dict | None = None
) -> tuple[int, str, int]:
    """(status, sha256, bytes) of a download read as it arrives."""
    digest, size = hashlib.sha256(), 0
    with session.get(url, stream=True, timeout=120, headers=headers) as response:
        out = target.open("wb") if target else None
        for block in response.iter_content(MiB):
            digest.update(block)
            size += len(block)
            if out:
                out.write(block)
        if out:
            out.close()
        assert response.headers.get("Content-Length") == str(size)
        return response.status_code, digest.hexdigest(), size


def test_concurrent_zips_and_videos_keep_daphne_small(web, alice, project, speech_wav, face_clip, tmp_path):
    proc, base = web.proc, web.url
    audio, video = add_asset(project, speech_wav), add_asset(project, face_clip)
    batch = start_batch(alice, project, audio, [video, video, video])
    hashes = {}
    for render in batch.renders.all():
        render.output.name = f"outputs/stream-test/{render.pk}.mp4"
        hashes[render.pk] = write_output(Path(settings.MEDIA_ROOT) / render.output.name, OUTPUT_SIZE)
        render.status, render.output_size, render.finished_at = Status.SUCCEEDED, OUTPUT_SIZE, timezone.now()
        render.save()
    session = session_for(alice)
    zip_url = base + reverse("rendering:batch_zip", args=[batch.pk])
    file_urls = {pk: base + reverse("rendering:render_file", args=[pk]) for pk in hashes}

    # Warm up (imports, thread pools, database connection) before the baseline.
    first = next(iter(file_urls.values()))
    assert download(session, first)[0] == 200
    with session.get(zip_url, stream=True) as response:
        next(response.iter_content(MiB))

    zips = [tmp_path / f"batch-{n}.zip" for n in range(3)]
    started = time.monotonic()
    with PeakRSS(proc.pid) as rss, ThreadPoolExecutor(6) as pool:
        zip_jobs = [pool.submit(download, session, zip_url, target) for target in zips]
        # A video player asks for `bytes=0-`: that one streams too.
        ranges = [None, None, {"Range": "bytes=0-"}]
        file_jobs = {
            pk: pool.submit(download, session, url, None, r) for (pk, url), r in zip(file_urls.items(), ranges)
        }
        zip_results = [job.result() for job in zip_jobs]
        file_results = {pk: job.result() for pk, job in file_jobs.items()}
    elapsed = time.monotonic() - started
    print(
        f"3 zips + 3 videos ({3 * 4 * OUTPUT_SIZE // MiB} MiB) in {elapsed:.1f} s, RSS growth {rss.growth / MiB:.1f} MiB"
    )

    for (pk, (status, digest, size)), expected in zip(file_results.items(), (200, 200, 206)):
        assert (status, digest, size) == (expected, hashes[pk], OUTPUT_SIZE)
    for target, (status, _, size) in zip(zips, zip_results):
        assert status == 200 and size == target.stat().st_size > 3 * OUTPUT_SIZE
        with zipfile.ZipFile(target) as archive:
            assert archive.testzip() is None
            assert [info.file_size for info in archive.infolist()] == [OUTPUT_SIZE] * 3
    assert rss.growth < MAX_GROWTH, f"daphne grew by {rss.growth / MiB:.0f} MiB"


def test_a_slow_client_holds_the_read_back_and_leaving_stops_it(web, alice, project, speech_wav):
    proc, base = web.proc, web.url
    asset = add_asset(project, speech_wav)
    big = Path(asset.file.path).with_name("big-" + Path(asset.file.path).name)
    write_output(big, 200 * MiB)
    asset.file.name = str(big.relative_to(settings.MEDIA_ROOT))
    asset.save()
    url = base + reverse("projects:asset_file", args=[asset.pk])
    with PeakRSS(proc.pid) as rss, session_for(alice).get(url, stream=True) as response:
        assert response.status_code == 200
        next(response.iter_content(MiB))
        time.sleep(2)  # a stalled player: without backpressure daphne would buffer the whole file by now
    assert rss.growth < MAX_GROWTH, f"daphne grew by {rss.growth / MiB:.0f} MiB"
    # The server closes the file soon after the client hung up.
    deadline = time.monotonic() + 10
    while any(f.path == str(big) for f in psutil.Process(proc.pid).open_files()):
        assert time.monotonic() < deadline, "the file stayed open after the client left"
        time.sleep(0.1)


def multipart(name: str, size: int, boundary: str = "heygemstreamtestboundary"):
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{CSRF}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MiB)

    def chunks():
        yield head
        for _ in range(size // MiB):
            yield block
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + size // MiB * MiB + len(tail), chunks()


def test_a_large_upload_goes_to_disk_as_it_arrives(web, alice, project):
    proc, base = web.proc, web.url
    session = session_for(alice)
    content_type, length, chunks = multipart("noise.bin", 400 * MiB)
    port = int(base.rsplit(":", 1)[1])
    with PeakRSS(proc.pid) as rss:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request(
            "POST",
            reverse("projects:upload", args=[project.pk]),
            body=chunks,
            headers={
                "Content-Type": content_type,
                "Content-Length": str(length),
                "Accept": "application/json",
                "X-CSRFToken": CSRF,
                "Cookie": f"csrftoken={CSRF}; sessionid={session.cookies['sessionid']}",
            },
        )
        response = conn.getresponse()
        result = json.loads(response.read())
        conn.close()
    print(f"400 MiB upload: RSS growth {rss.growth / MiB:.1f} MiB")
    # The whole body reached the upload code, which refused the file by its name
    # (not by probing it: decoding is a different cost, tested with the media limits).
    assert response.status == 200
    assert result["files"][0]["name"] == "noise.bin" and not result["files"][0]["ok"]
    assert rss.growth < MAX_GROWTH, f"daphne grew by {rss.growth / MiB:.0f} MiB"


# --- bodies over the limit: 413 before the client has sent them ---------------------


@pytest.fixture
def small_limit(tmp_path):
    with start_daphne(tmp_path / "web-small.log", worker_env(HEYGEM_MAX_UPLOAD_MB="1")) as server:
        yield server.port


def open_request(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def send_until_answered(sock: socket.socket, block: bytes, limit: int) -> tuple[bytes, int]:
    """Send blocks until the server answers (or `limit` bytes went out);
    returns the start of the answer and how much was sent."""
    sent = 0
    while sent < limit:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(block)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(block)
    answer = sock.recv(65536)
    return answer, sent


def test_an_upload_declared_too_large_is_refused_before_its_body(small_limit, alice, project):
    session = session_for(alice)
    sock = open_request(
        small_limit,
        reverse("projects:upload", args=[project.pk]),
        {
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(500 * MiB),
            "Accept": "application/json",
            "Accept-Language": "en",
            "Cookie": f"sessionid={session.cookies['sessionid']}",
        },
    )
    answer = sock.recv(65536)  # nothing of the body was sent
    sock.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(payload)["files"][0]["error"] == "This file is larger than the upload limit of 1 MB."


def test_a_chunked_upload_is_cut_off_when_it_passes_the_limit(small_limit, alice, project):
    session = session_for(alice)
    sock = open_request(
        small_limit,
        reverse("projects:upload", args=[project.pk]),
        {
            "Content-Type": "multipart/form-data; boundary=x",
            "Transfer-Encoding": "chunked",
            "Cookie": f"sessionid={session.cookies['sessionid']}",
        },
    )
    chunk = b"40000\r\n" + b"\0" * 0x40000 + b"\r\n"  # 256 KiB per chunk
    answer, sent = send_until_answered(sock, chunk, 100 * MiB)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"larger than the upload limit of 1 MB" in answer
    assert sent < 10 * MiB  # refused right after the 2 MiB limit, not at the end


def test_other_urls_take_only_small_bodies(small_limit):
    sock = open_request(
        small_limit,
        "/accounts/login/",
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(3 * MiB)},
    )
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"too large" in answer
