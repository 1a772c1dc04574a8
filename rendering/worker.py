"""The worker process: one job at a time, in this process (no fork per job),
so the lip-sync engine loaded for the first job stays loaded for the next.

Each worker keeps a heartbeat in Redis (``heygem:worker:<name>``, expiring
after HEARTBEAT_TTL seconds): host, device, whether the model is loaded, the
current render. A render whose worker has no heartbeat any more was lost
(SIGKILL, out of memory, power cut); every worker runs the reconciliation
that fixes such rows every RECONCILE_EVERY seconds, and once at start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import django_rq
from django.db import close_old_connections, connection
from rq import SimpleWorker

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "heygem:worker:"
HEARTBEAT_EVERY = 5
HEARTBEAT_TTL = 20
RECONCILE_EVERY = 30
RETENTION_EVERY = 3600


def alive_workers() -> set[str]:
    redis = django_rq.get_connection("gpu")
    return {key.decode()[len(HEARTBEAT_KEY):] for key in redis.scan_iter(match=HEARTBEAT_KEY + "*", count=500)}


def worker_info() -> list[dict]:
    redis = django_rq.get_connection("gpu")
    infos = []
    for key in redis.scan_iter(match=HEARTBEAT_KEY + "*", count=500):
        data = {k.decode(): v.decode() for k, v in redis.hgetall(key).items()}
        data["name"] = key.decode()[len(HEARTBEAT_KEY):]
        infos.append(data)
    return sorted(infos, key=lambda d: d["name"])


def _device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.current_device()} {torch.cuda.get_device_name()}"
    except Exception:  # no usable CUDA: report the CPU
        pass
    return "cpu"


class HeyGemWorker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._beat_stop = threading.Event()
        self._device = _device_name()

    def work(self, *args, **kwargs):
        thread = threading.Thread(target=self._beat_loop, name="heygem-heartbeat", daemon=True)
        thread.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            self._beat_stop.set()
            self.connection.delete(HEARTBEAT_KEY + self.name)

    def _beat_loop(self) -> None:
        last_reconcile = 0.0
        while not self._beat_stop.is_set():
            try:
                self._beat()
                if time.monotonic() - last_reconcile > RECONCILE_EVERY:
                    last_reconcile = time.monotonic()
                    self._reconcile()
                    self._retention()
            except Exception:
                log.warning("worker heartbeat failed", exc_info=True)
            self._beat_stop.wait(HEARTBEAT_EVERY)

    def _beat(self) -> None:
        from rendering.engine import loaded_engine

        job = self.get_current_job()
        engine = loaded_engine()
        key = HEARTBEAT_KEY + self.name
        with self.connection.pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "device": self._device,
                    "queues": ",".join(self.queue_names()),
                    "model_loaded": "1" if engine is not None else "0",
                    "model": (engine.model_name or "custom") if engine is not None else "",
                    "current_job": job.id if job else "",
                    "heartbeat": f"{time.time():.0f}",
                },
            )
            pipe.expire(key, HEARTBEAT_TTL)
            pipe.execute()

    def _reconcile(self) -> None:
        from rendering.services import reconcile

        lock = self.connection.lock("heygem:lock:reconcile", timeout=60, blocking_timeout=0)
        if not lock.acquire(blocking=False):
            return
        try:
            close_old_connections()
            counts = reconcile()
            if any(counts.values()):
                log.warning("reconciled renders: %s", counts)
        finally:
            connection.close()
            lock.release()


    def _retention(self) -> None:
        """HEYGEM_RETENTION_DAYS: at most once an hour across all workers,
        delete outputs older than that (and leftovers of dead jobs)."""
        from django.conf import settings

        days = settings.HEYGEM_RETENTION_DAYS
        if not days or not self.connection.set("heygem:retention:last", time.time(), nx=True, ex=RETENTION_EVERY):
            return
        from rendering.cleanup import Scope, execute

        try:
            close_old_connections()
            deleted = execute(Scope(older_than_days=days, outputs=True, leftovers=True))
            if deleted:
                log.info("retention: deleted %d item(s) older than %d days", len(deleted), days)
        finally:
            connection.close()


def run_worker(queue_names: list[str], *, burst: bool = False, name: str | None = None) -> None:
    queues = [django_rq.get_queue(q) for q in queue_names]
    if name is None:
        gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        name = f"{socket.gethostname()}{'-gpu' + gpu if gpu else ''}.{os.getpid()}"
    worker = HeyGemWorker(queues, connection=queues[0].connection, name=name)
    if "gpu" in queue_names:
        _preload_engine()
    worker.work(burst=burst, with_scheduler=False)


def _preload_engine() -> None:
    """Load the model before the first job, so that job is not slower and
    the dashboard shows the worker ready. Without a model, start anyway:
    jobs then fail with "model not installed"."""
    from ml.errors import LipSyncError
    from rendering.engine import get_engine

    try:
        get_engine()
    except LipSyncError as err:
        log.warning("lip-sync engine not loaded: %s", err)
