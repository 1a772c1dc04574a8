"""The worker process: one job at a time, in this process (no fork per job),
so the lip-sync engine loaded for the first job stays loaded for the next.

A worker started with ``--queues gpu`` serves every member's GPU queue
(rendering/queues.py): before each dequeue it reads the current list of
member queues from Redis, least recently served first, so a member who
queues one item waits for at most one item per worker, however much others
have queued.

Each worker keeps a heartbeat in Redis (rendering/heartbeat.py). A render
whose worker has no heartbeat any more was lost (SIGKILL, out of memory,
power cut); every worker runs the reconciliation that fixes such rows every
HEYGEM_RECONCILE_EVERY_S seconds, and once at start.

Workers may run on many machines sharing one Redis, one database and one
bucket: a worker is named after its machine and device (host.cuda1.pid), and
the only sign of life one worker trusts about another is that heartbeat, never
a process id (which means nothing on another machine).

An operator's --name may be reused by a restart (systemd, after a SIGKILL):
the new run waits until no other run's heartbeat holds the name, then takes
it (rendering/heartbeat.py) and forgets rq's registration of the dead run,
which rq would otherwise keep "active" for the dead job's timeout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

import django_rq
import redis
from django.conf import settings
from django.db import close_old_connections, connection
from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from rendering import heartbeat, queues

log = logging.getLogger(__name__)

RETENTION_EVERY = 3600
#: How long an idle worker blocks on the queues it knows before it looks for
#: new members' queues (a job on a known queue wakes it at once).
POLL_S = 2


def _device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.current_device()} {torch.cuda.get_device_name()}"
    except Exception:  # no usable CUDA: report the CPU
        pass
    return "cpu"


class HeyGemWorker(SimpleWorker):
    """An rq SimpleWorker whose queue named `gpu` stands for every member's GPU
    queue, in least-recently-served order, refreshed before each dequeue."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listed = list(self.queues)  # as started: `gpu` is expanded before each dequeue
        self._gpu_queues: dict[str, Queue] = {}
        self._beat_stop = threading.Event()
        self._device = _device_name()

    # --- fair share -------------------------------------------------------------

    def refresh_queues(self) -> None:
        """Expand `gpu` into the member queues, least recently served first."""
        if not any(q.name == queues.GPU for q in self._listed):
            return
        try:
            names = queues.gpu_queue_names(self.connection)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # Keep the last list; the dequeue below waits for Redis to come back.
            log.warning("could not read the GPU queues; using the last list")
            return
        expanded: list[Queue] = []
        for listed in self._listed:
            if listed.name != queues.GPU:
                expanded.append(listed)
                continue
            for name in names:
                if name not in self._gpu_queues:
                    self._gpu_queues[name] = queues.gpu_queue(name, self.connection)
                expanded.append(self._gpu_queues[name])
        self.queues = expanded
        self._ordered_queues = expanded[:]

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None
                                     ) -> tuple[Job, Queue] | None:
        """rq blocks on a fixed list of queues; this blocks at most POLL_S
        seconds at a time and refreshes the list in between."""
        idle_since = time.monotonic()
        while True:
            self.refresh_queues()
            wait = None if timeout is None else max(1, min(timeout, POLL_S))
            result = super().dequeue_job_and_maintain_ttl(wait, max_idle_time=wait)
            if result is not None:
                self._mark_served(result[1])
                return result
            if timeout is None:  # burst: one pass over the queues
                return None
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None

    def _mark_served(self, queue: Queue) -> None:
        if not queue.name.startswith(queues.GPU):
            return
        try:
            queues.mark_served(self.connection, queue.name)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            # The job is already taken: run it; the order is only a little less fair.
            log.warning("could not record which queue was served", exc_info=True)

    # --- heartbeat and housekeeping ------------------------------------------------

    def work(self, *args, **kwargs):
        heartbeat.take_name(self.connection, self.name)
        self._forget_earlier_run()
        thread = threading.Thread(target=self._beat_loop, name="heygem-heartbeat", daemon=True)
        thread.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            self._beat_stop.set()
            heartbeat.stop(self.connection, self.name)

    def _forget_earlier_run(self) -> None:
        """rq refuses a name registered alive, and a run killed mid-job stays
        registered for that job's timeout (hours for a render). The name is
        this run's now (take_name: the earlier run's heartbeat is gone), so
        that registration is a dead run's."""
        if not self.connection.exists(self.key) or self.connection.hexists(self.key, "death"):
            return
        earlier = Worker.find_by_key(self.key, connection=self.connection)
        if earlier is not None:
            log.warning("worker name %s: an earlier run of it stopped without saying so", self.name)
            earlier.register_death()

    def _beat_loop(self) -> None:
        last_reconcile = 0.0
        while not self._beat_stop.is_set():
            try:
                self._beat()
                if time.monotonic() - last_reconcile > settings.HEYGEM_RECONCILE_EVERY_S:
                    last_reconcile = time.monotonic()
                    self._reconcile()
                    self._retention()
                self._webhook_retries()
            except Exception:
                log.warning("worker heartbeat failed", exc_info=True)
            self._beat_stop.wait(heartbeat.every())

    def _beat(self) -> None:
        from rendering.engine import loaded_engine, model_label

        job = self.get_current_job()
        engine = loaded_engine()
        render = ""
        if job is not None and job.func_name.endswith("render_item") and job.args:
            render = str(job.args[0])
        heartbeat.beat(
            self.connection,
            self.name,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "device": self._device,
                "queues": ",".join(q.name for q in self._listed),
                "model_loaded": "1" if engine is not None else "0",
                "model": model_label(engine) if engine is not None else "",
                "current_job": job.id if job else "",
                "render": render,
                "incarnation": heartbeat.incarnation(),
            },
        )

    def _reconcile(self) -> None:
        from rendering.services import reconcile

        # A worker killed while it holds the lock holds up the others no longer
        # than its heartbeat lingers (two overlapping runs would be harmless:
        # each change checks the row is still as read).
        lock = self.connection.lock("heygem:lock:reconcile", timeout=heartbeat.lost_after(), blocking_timeout=0)
        if not lock.acquire(blocking=False):
            return
        try:
            close_old_connections()
            counts = reconcile()
            if any(counts.values()):
                log.warning("reconciled renders: %s", counts)
        finally:
            connection.close()
            with contextlib.suppress(redis.exceptions.LockNotOwnedError):  # a run longer than the lock's timeout
                lock.release()

    def _webhook_retries(self) -> None:
        """Queue the API's webhook deliveries whose retry is due (api/webhooks.py)."""
        from api.webhooks import queue_due

        lock = self.connection.lock("heygem:lock:webhook-retries", timeout=30, blocking_timeout=0)
        if not lock.acquire(blocking=False):
            return
        try:
            close_old_connections()
            queue_due()
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


def device_label(device: str | None) -> str:
    """What a worker's name says about its device: cuda1 for --device cuda:1,
    gpu0 for CUDA_VISIBLE_DEVICES=0, else cpu/cuda/auto."""
    device = device or settings.HEYGEM_DEVICE
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if device in ("auto", "cuda") and visible:
        return "gpu" + visible.replace(",", "+")
    return device.replace(":", "")


def default_name(device: str | None) -> str:
    """Unique across machines and restarts: host, device, process id."""
    return f"{socket.gethostname()}.{device_label(device)}.{os.getpid()}"


def run_worker(queue_names: list[str], *, burst: bool = False, name: str | None = None,
               device: str | None = None) -> None:
    """Work the named queues; `gpu` means every member's GPU queue. `device`
    (cpu, cuda, cuda:N) overrides HEYGEM_DEVICE for this worker."""
    if device:
        settings.HEYGEM_DEVICE = device
        if device.startswith("cuda:"):
            import torch

            # Everything that says plain "cuda" in this process (the face
            # detector, say) then means this GPU too.
            torch.cuda.set_device(int(device.split(":", 1)[1]))
    listed = [queues.gpu_queue(q) if q == queues.GPU else django_rq.get_queue(q) for q in queue_names]
    worker = HeyGemWorker(listed, connection=listed[0].connection, name=name or default_name(device))
    remove_dead_scratch()
    if queues.GPU in queue_names:
        _preload_engine()
    worker.work(burst=burst, with_scheduler=False)


def remove_dead_scratch() -> None:
    """Scratch folders on this machine of renders no longer running (a
    killed job cannot clean up, and reconciliation runs on whichever machine
    noticed): removed when a worker starts here."""
    import shutil
    from pathlib import Path

    from rendering.models import Render, Status

    root = Path(settings.HEYGEM_SCRATCH_DIR)
    if not root.is_dir():
        return
    running = set(Render.objects.filter(status=Status.RUNNING).values_list("pk", flat=True))
    for path in root.glob("render-*"):
        try:
            render_id = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if render_id not in running:
            shutil.rmtree(path, ignore_errors=True)


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
