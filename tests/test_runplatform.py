"""`make run` (manage.py runplatform): starts redis, daphne and a worker, and
leaves nothing behind when stopped."""

import os
import signal
import subprocess
import time

import psutil
import pytest
import redis

from heygem_site.embedded_redis import free_port
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


def start_platform(tmp_path, **extra):
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
        [python(), "manage.py", "runplatform", "--port", str(web_port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    _started.append(proc)
    wait_for_http(f"http://127.0.0.1:{web_port}/accounts/login/", proc, timeout=90)
    deadline = time.monotonic() + 30
    while len(psutil.Process(proc.pid).children()) < 3 and time.monotonic() < deadline:
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
