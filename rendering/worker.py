"""The worker process: one job at a time, in this process (no fork per job),
so the lip-sync engine loaded for the first job stays loaded for the next."""

from __future__ import annotations

import django_rq
from rq import SimpleWorker


class HeyGemWorker(SimpleWorker):
    pass


def run_worker(queue_names: list[str], *, burst: bool = False, name: str | None = None) -> None:
    queues = [django_rq.get_queue(q) for q in queue_names]
    worker = HeyGemWorker(queues, connection=queues[0].connection, name=name)
    worker.work(burst=burst, with_scheduler=True)
