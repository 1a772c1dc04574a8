"""Starting the platform's real processes from tests, on private ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
