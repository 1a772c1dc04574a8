"""Progress of a running render: throttled writes to the Render row (the
truth, for page reloads) and events to the live pages.

The engine calls :meth:`ProgressReporter.on_progress` from its own threads;
that call only records the latest numbers. A reporter thread writes them at
most every HEYGEM_PROGRESS_INTERVAL seconds and, on the same tick, notices a
cancellation made from the web, which the next engine callback turns into
:class:`ml.errors.RenderCancelled` so the engine stops and cleans up.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from ml.errors import RenderCancelled
from ml.settings import Progress
from rendering.events import publish
from rendering.models import Render, Stage, Status

log = logging.getLogger(__name__)

# Share of the whole render per stage, for one overall progress bar.
STAGE_SPAN = {
    Stage.LOAD: (0.0, 0.0),
    Stage.AUDIO: (0.0, 0.02),
    Stage.DETECT: (0.02, 0.25),
    Stage.INFER: (0.25, 0.95),
    Stage.ENCODE: (0.95, 0.98),
    Stage.STORE: (0.98, 1.0),
}


def overall(stage: str, done: int, total: int) -> float:
    start, end = STAGE_SPAN.get(stage, (0.0, 0.0))
    return start + (end - start) * (min(done, total) / total if total else 0.0)


class ProgressReporter:
    def __init__(self, render: Render, interval: float | None = None):
        self.render = render
        self.interval = settings.HEYGEM_PROGRESS_INTERVAL if interval is None else interval
        self._latest: Progress | None = None
        self._stage: str = render.stage
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self.cancelled = threading.Event()
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"progress-{render.pk}", daemon=True)

    # --- called by the job and the engine -------------------------------------

    def __enter__(self) -> ProgressReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Send the last progress and end the reporter thread (idempotent).
        Called before the final state is stored, so no "running" event can
        reach a page after "succeeded"."""
        self._stop.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def on_progress(self, progress: Progress) -> None:
        if self.cancelled.is_set():
            raise RenderCancelled()
        with self._lock:
            self._latest = progress
            self._stage = progress.stage
        self._dirty.set()

    def set_stage(self, stage: str) -> None:
        with self._lock:
            self._stage = stage
            self._latest = None
        self._dirty.set()

    def log(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def take_lines(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines

    # --- the reporter thread ----------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._dirty.wait(self.interval)
                self._dirty.clear()
                self._flush()
                if self._stop.is_set():
                    break
                time.sleep(self.interval)
        finally:
            connection.close()

    def _flush(self) -> None:
        close_old_connections()
        with self._lock:
            progress, stage = self._latest, self._stage
        render = self.render
        fields = {"stage": stage}
        if progress is not None:
            fields.update(
                frames_done=progress.done,
                frames_total=progress.total,
                fps=progress.fps or None,
                eta_s=progress.eta,
                progress=overall(stage, progress.done, progress.total),
            )
        else:
            fields.update(progress=STAGE_SPAN.get(stage, (render.progress, 0))[0], fps=None, eta_s=None)
        try:
            updated = Render.objects.filter(pk=render.pk, status=Status.RUNNING).update(**fields)
        except Exception:
            log.warning("progress not saved", extra={"render_id": render.pk}, exc_info=True)
            return
        if not updated:
            # Cancelled (or reconciled) from elsewhere: stop at the next engine callback.
            self.cancelled.set()
            return
        for name, value in fields.items():
            setattr(render, name, value)
        publish(render)
