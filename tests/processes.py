"""Starting the platform's real processes from tests, on private ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from heygem_site.embedded_redis import free_port
from heygem_site.lifecycle import die_with_parent

ROOT = Path(__file__).resolve().parent.parent


def platform_env(**extra: str) -> dict[str, str]:
    """The environment of the test run (same database, Redis, media), for a
    child process using the test settings."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "heygem_site.test_settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def wait_for_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def python() -> str:
    return sys.executable


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Popen for test processes: they die with the test run, even when it is
    killed (a timeout, Ctrl-C), instead of lingering on the machine."""
    return subprocess.Popen(args, preexec_fn=die_with_parent, **kwargs)


def live_database_url() -> str:
    """DATABASE_URL of the database the running tests use (the test database
    pytest-django created), for child processes."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    from urllib.parse import quote

    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def worker_env(model_dir: str | None = None, **extra: str) -> dict[str, str]:
    env = platform_env(DATABASE_URL=live_database_url(), **extra)
    if model_dir is not None:
        env["HEYGEM_MODEL_DIR"] = str(model_dir)
    return env


def start_worker(*, model_dir=None, queues=("gpu", "default"), log_path=None, name: str | None = None,
                 **extra) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    named = ["--name", name] if name else []
    return spawn(
        [python(), "manage.py", "renderworker", "--queues", *queues, *named],
        cwd=ROOT, env=worker_env(model_dir, **extra), stdout=out, stderr=subprocess.STDOUT,
    )


def log_tail(path: Path, chars: int = 3000) -> str:
    """The end of a process's log, for an error message."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"({exc})"


PLATFORM_APP = "heygem_site.asgi:application"


@dataclass
class WebServer:
    """A daphne started by a test (`python -m heygem_site.webserver`, as `make
    run` and the systemd unit start it) on a private loopback port. As a
    context manager it stops the server on leaving."""

    proc: subprocess.Popen
    port: int
    log: Path
    ready_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until it answers HTTP at ready_path. If it exits or never answers,
        the error carries the end of its log (the traceback that stopped it)."""
        try:
            wait_for_http(self.url + self.ready_path, self.proc, timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise type(exc)(f"{exc}\n--- {self.log} ---\n{log_tail(self.log)}") from None

    def stop(self) -> None:
        stop(self.proc)

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_daphne(
    log: Path,
    env: dict[str, str] | None = None,
    *,
    app: str = PLATFORM_APP,
    args: Sequence[str] = (),
    ready_path: str = "/accounts/login/",
    wait: bool = True,
    port: int | None = None,
) -> WebServer:
    """daphne serving ``app`` on ``port`` (a free one by default), its output
    in ``log``. ``env`` defaults to worker_env(): the test run's database,
    Redis and media. With wait=False the caller starts other processes
    meanwhile and calls wait_ready() itself."""
    port = port or free_port()
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = spawn(
            [python(), "-m", "heygem_site.webserver", "-b", "127.0.0.1", "-p", str(port), *args, app],
            cwd=ROOT, env=worker_env() if env is None else env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = WebServer(proc, port, Path(log), ready_path)
    if wait:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
