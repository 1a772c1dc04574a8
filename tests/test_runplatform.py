"""`make run` (manage.py runplatform): starts redis, daphne and a worker, and
leaves nothing behind when stopped."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import psutil
import pytest
import redis
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from heygem_site.embedded_redis import free_port
from heygem_site.management.commands.runplatform import daphne_command
from tests import mediafactory
from tests.conftest import FIXTURES
from tests.processes import ROOT, python, spawn, wait_for_http

pytestmark = pytest.mark.slow

_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _stop_leftovers():
    """A failed assertion must not leave a platform running: killing the
    supervisor takes its children with it (PR_SET_PDEATHSIG)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_platform(tmp_path, *args, **extra):
    web_port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "HEYGEM_TEST_EMBEDDED_REDIS")}
    env.update(
        DJANGO_SETTINGS_MODULE="heygem_site.settings",
        HEYGEM_VAR_DIR=str(tmp_path / "var"),
        HEYGEM_EMBEDDED_REDIS_PORT=str(redis_port),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    log = (tmp_path / "run.log").open("w+")
    proc = spawn(
        [python(), "manage.py", "runplatform", "--port", str(web_port), *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    _started.append(proc)
    wait_for_http(f"http://127.0.0.1:{web_port}/accounts/login/", proc, timeout=90)
    deadline = time.monotonic() + 30
    expected = 2 if "--no-worker" in args else 3
    while len(psutil.Process(proc.pid).children()) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return proc, web_port, redis_port, log


def cmd(process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone, or a zombie not yet reaped
        return ""


def names(children):
    return sorted(cmd(c) for c in children)


def test_run_starts_everything_and_ctrl_c_stops_it(tmp_path):
    proc, web_port, redis_port, log = start_platform(tmp_path, HEYGEM_ADMIN_PASSWORD="first-admin-pass")
    children = psutil.Process(proc.pid).children()
    cmdlines = names(children)
    assert any("redis-server" in c and f"127.0.0.1:{redis_port}" in c or f"--port {redis_port}" in c for c in cmdlines), cmdlines
    assert any("heygem_site.webserver" in c for c in cmdlines)
    assert any("renderworker" in c for c in cmdlines)
    assert redis.Redis(port=redis_port).ping()
    assert (tmp_path / "var" / "redis").is_dir()
    log.seek(0)
    output = log.read()
    assert f"http://127.0.0.1:{web_port}/" in output
    assert "Created the admin account" in output
    assert (tmp_path / "var" / "log" / "heygem.log").exists()

    # A worker that dies is replaced (as systemd's Restart=always would).
    worker = next(c for c in children if "renderworker" in cmd(c))
    worker.kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = [c for c in psutil.Process(proc.pid).children() if "renderworker" in cmd(c)]
        if workers and workers[0].pid != worker.pid:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no new worker")
    children = psutil.Process(proc.pid).children()

    proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers
    assert proc.wait(timeout=30) == 0
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, names(alive)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()


def test_children_die_with_a_killed_supervisor(tmp_path):
    proc, web_port, redis_port, log = start_platform(tmp_path)
    children = psutil.Process(proc.pid).children()
    assert len(children) == 3
    log.seek(0)
    password = log.read().split("password ")[1].split()[0]
    assert len(password) >= 12
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, names(alive)


def test_daphne_trusts_proxy_headers_only_when_told(settings):
    settings.HEYGEM_TRUST_PROXY_HEADERS = False
    assert "--proxy-headers" not in daphne_command("127.0.0.1", 8000)
    settings.HEYGEM_TRUST_PROXY_HEADERS = True
    assert "--proxy-headers" in daphne_command("127.0.0.1", 8000)


def test_a_forged_forwarded_for_does_not_walk_around_the_lockout(tmp_path):
    proc, web_port, redis_port, log = start_platform(tmp_path, "--no-worker", HEYGEM_ADMIN_PASSWORD="first-admin-pass")
    login = f"http://127.0.0.1:{web_port}/accounts/login/"
    session = requests.Session()

    def attempt(password: str, n: int) -> requests.Response:
        session.get(login, timeout=10)
        data = {"username": "admin", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        # A client naming a new address with every guess, as if it were a proxy.
        return session.post(login, data=data, headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10)

    statuses = [attempt("wrong-guess", n).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    locked = attempt("first-admin-pass", 99)
    assert locked.status_code == 429
    assert "Wait 15 minutes, then try again." in locked.text


# --- Redis can restart without losing anything ---------------------------------------


def _post(session: requests.Session, url: str, data=None, **kwargs) -> requests.Response:
    data = {**(data or {}), "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(url, data=data, timeout=30, **kwargs)


def _items(session: requests.Session, base: str, batch: int) -> list[dict]:
    response = session.get(f"{base}/batches/{batch}/status/", timeout=10)
    assert response.status_code == 200, response.status_code
    return response.json()["renders"]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _start_batch(session: requests.Session, base: str, project: int, audio: int, video: int, name: str) -> int:
    form = {"name": name, "audio": audio, "videos": [video], "pad_top": 0, "pad_bottom": 10, "pad_left": 0,
            "pad_right": 0, "blend": "feather", "loop": "pingpong", "quality": "standard"}
    response = _post(session, f"{base}/projects/{project}/batches/new/", form, allow_redirects=False)
    assert response.status_code == 302, response.text[-2000:]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _finished(session: requests.Session, base: str, batch: int):
    items = _items(session, base, batch)
    return items if all(i["status"] in ("succeeded", "failed", "cancelled") for i in items) else None


def test_redis_killed_mid_render_comes_back_and_the_next_render_succeeds(tmp_path, random_checkpoint):
    models = tmp_path / "var" / "models"
    models.mkdir(parents=True)
    shutil.copy(random_checkpoint, models / random_checkpoint.name)
    # Small and slow-framed: each render lasts seconds, long enough to interrupt.
    clip = mediafactory.make_face_clip(tmp_path / "long take.mp4", seconds=2.0, fps=12, size=(256, 192))
    speech = mediafactory.cut_audio(FIXTURES / "speech_en_16k.wav", tmp_path / "speech.wav", 3.0)
    proc, web_port, redis_port, log = start_platform(tmp_path, HEYGEM_ADMIN_PASSWORD="first-admin-pass")
    base = f"http://127.0.0.1:{web_port}"

    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    assert _post(session, f"{base}/accounts/login/", {"username": "admin", "password": "first-admin-pass"},
                 allow_redirects=False).status_code == 302
    created = _post(session, f"{base}/projects/new/", {"name": "Redis drill"}, allow_redirects=False)
    project = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assets = {}
    for path in (speech, clip):
        with path.open("rb") as fh:
            uploaded = _post(session, f"{base}/projects/{project}/upload/", files={"files": (path.name, fh)},
                             headers={"Accept": "application/json"})
        assert uploaded.status_code == 200, uploaded.text
        assets[path.name] = uploaded.json()["files"][0]["asset"]
    audio, video = assets["speech.wav"], assets["long take.mp4"]

    children = psutil.Process(proc.pid).children()
    redis_server = next(c for c in children if "redis-server" in cmd(c))
    worker = next(c for c in children if "renderworker" in cmd(c))

    first = _start_batch(session, base, project, audio, video, "Before the restart")
    _wait_for(lambda: _items(session, base, first)[0]["stage"] == "infer", 180, "the render reached lip-syncing")
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": base}
    watching = connect(f"ws://127.0.0.1:{web_port}/ws/batches/{first}/", additional_headers=headers, open_timeout=10)
    redis_server.kill()

    # The platform stays up: pages answer while Redis is away and after.
    assert session.get(f"{base}/projects/{project}/", timeout=10).status_code == 200
    _wait_for(lambda: redis_port_answers(redis_port), 30, "redis-server started again")
    assert proc.poll() is None
    assert worker.is_running() and worker.pid in [c.pid for c in psutil.Process(proc.pid).children()]

    # The interrupted render finished, or failed saying why and can be retried.
    item = _wait_for(lambda: _finished(session, base, first), 240, "the interrupted render ended")[0]
    # A socket open across the restart never stalls in silence: it is closed (the page
    # reconnects and re-reads its rows) or it carries the events to the end.
    with watching:
        try:
            while json.loads(watching.recv(timeout=30))["status"] not in ("succeeded", "failed"):
                pass
        except (ConnectionClosed, OSError):  # closed, or reset by daphne
            pass
    if item["status"] == "failed":
        row = session.get(f"{base}/renders/{item['render']}/row/", timeout=10).text
        assert re.search(r'data-field="error">[^<]*\w', row), row  # says why, in words
        assert _post(session, f"{base}/renders/{item['render']}/retry/", allow_redirects=False).status_code == 302
        item = _wait_for(lambda: _finished(session, base, first), 240, "the retried render ended")[0]
    assert item["status"] == "succeeded", item

    # Web (queue and channel layer) and worker reconnected: a new render runs, and its events arrive live.
    second = _start_batch(session, base, project, audio, video, "After the restart")
    statuses = []
    with connect(f"ws://127.0.0.1:{web_port}/ws/batches/{second}/", additional_headers=headers, open_timeout=10) as ws:
        deadline = time.monotonic() + 240
        while not statuses or statuses[-1] not in ("succeeded", "failed"):
            statuses.append(json.loads(ws.recv(timeout=max(1, deadline - time.monotonic())))["status"])
    assert statuses[-1] == "succeeded", statuses
    assert _items(session, base, second)[0]["status"] == "succeeded"
    assert worker.is_running()  # the same worker process all along: the engine stayed loaded


def redis_port_answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        return False
