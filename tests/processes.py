"""Starting the platform's real processes from tests, on private ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
