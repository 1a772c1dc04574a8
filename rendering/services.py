"""What users and operators do to renders: start, cancel, retry, re-run,
and the reconciliation of rows whose worker or job is gone. The state
changes themselves are Render methods (rendering/models.py)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from projects import sharing
from projects.models import Activity, Asset, Project, Template
from rendering import queues, quotas
from rendering.events import publish
from rendering.heartbeat import live_incarnations
from rendering.models import ACTIVE, Render, RenderBatch, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    source: Asset
    template: Template | None = None
    #: This item's own recording; None: the batch's audio.
    audio: Asset | None = None


def pairings(audios: list[Asset], presenters: list[Item]) -> list[Item]:
    """Every recording with every presenter, grouped by recording (one
    recording: the presenters alone, as a batch always was)."""
    if len(audios) <= 1:
        return list(presenters)
    return [Item(p.source, p.template, audio) for audio in audios for p in presenters]


def create_batch(user, project: Project, name: str, audio: Asset, items: list[Item], settings: dict) -> RenderBatch:
    """Create the batch and its renders in one transaction; the jobs are
    sent to the queue when it commits, so a worker never sees a missing row.
    Raises QuotaExceeded (nothing created) when the member is over a quota."""
    with transaction.atomic():
        _lock_member(user.pk)
        quotas.check_new_renders(user, len(items))
        batch = RenderBatch.objects.create(owner=user, project=project, name=name, audio=audio, settings=settings)
        for position, item in enumerate(items):
            render = Render.objects.create(
                batch=batch,
                position=position,
                source=item.source,
                template=item.template,
                audio=item.audio,
                settings=dict(item.template.settings) if item.template else dict(settings),
            )
            queues.enqueue_render(render)
        project.touch()
        sharing.record(project, user, Activity.Verb.STARTED, f"{batch.name} ({len(items)})")
    return batch


def _lock_member(user_id: int) -> None:
    """Serialises one member's quota checks with their new renders, so two
    batches started at once cannot both pass the active-items quota."""
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def cancel_render(render: Render) -> bool:
    if not render.cancel():
        return False
    _drop_job(render.job_id)
    publish(render)
    return True


def cancel_batch(batch: RenderBatch, actor=None) -> int:
    count = sum(cancel_render(render) for render in batch.renders.filter(status__in=ACTIVE))
    if count and actor is not None:
        sharing.record(batch.project_id, actor, Activity.Verb.CANCELLED, f"{batch.name} ({count})")
    return count


def cancel_item(render: Render, actor) -> bool:
    """A member cancels one item (cancel_render, written to the project's activity list)."""
    cancelled = cancel_render(render)
    if cancelled:
        sharing.record(render.batch.project_id, actor, Activity.Verb.CANCELLED, f"{render.batch.name}: {render.title}")
    return cancelled


def cancel_member_work(user) -> int:
    """Cancel every queued and running item of batches this member started (staff, in /ops/)."""
    return sum(cancel_render(render) for render in Render.objects.active_of(user).order_by("pk"))


def retry_render(render: Render, actor=None) -> bool:
    """Queue a failed or cancelled item again (same row, a new job), on the
    queue of the member who started its batch (their quotas and fair share,
    whoever clicks). Raises QuotaExceeded."""
    with transaction.atomic():
        owner = render.batch.owner
        _lock_member(owner.pk)
        if render.status in (Status.FAILED, Status.CANCELLED):
            quotas.check_new_renders(owner, 1)
        if not render.retry():
            return False
        queues.enqueue_render(render)
        if actor is not None:
            sharing.record(render.batch.project_id, actor, Activity.Verb.RETRIED, f"{render.batch.name}: {render.title}")
    publish(render)
    return True


def rerun(render: Render, user) -> RenderBatch:
    """One click in the history: the same inputs and settings, as a new batch of one."""
    batch = render.batch
    return create_batch(
        user, batch.project, batch.name, render.speech, [Item(render.source, render.template)], render.settings
    )


def _drop_job(job_id: str) -> None:
    if not job_id:
        return
    try:
        job = Job.fetch(job_id, connection=queues.connection())
    except NoSuchJobError:
        return
    try:
        if job.get_status() in ("queued", "deferred", "scheduled"):
            job.cancel()
    except (InvalidJobOperation, NoSuchJobError):
        pass


# --- reconciliation -------------------------------------------------------------------

#: A job that started less than this long ago may not have written its worker's heartbeat yet.
GRACE = timedelta(seconds=20)


def reconcile(retries: int | None = None) -> dict[str, int]:
    """Fix rows whose worker died (SIGKILL, power loss) or whose job vanished.

    - running, but its worker has no heartbeat, or the heartbeat under its
      worker's name is another incarnation's (the worker was killed and
      started again under the same --name): failed (or queued again while
      attempts <= HEYGEM_RENDER_RETRIES);
    - queued, but its job is in no queue: queued again.
    """
    retries = settings.HEYGEM_RENDER_RETRIES if retries is None else retries
    now = timezone.now()
    # Rows first, heartbeats second: each render listed was claimed before the
    # heartbeats are read, so a live claimer's heartbeat (there since it took
    # its name) is among them.
    running = list(Render.objects.filter(status=Status.RUNNING, started_at__lt=now - GRACE).select_related("batch"))
    alive = live_incarnations()
    counts = {"failed": 0, "requeued": 0}
    for render in running:
        if alive.get(render.worker_name) == render.worker_incarnation:
            continue
        if render.attempts <= retries:
            counts["requeued"] += _requeue(render, gettext_noop("Worker lost; queued again."))
        else:
            counts["failed"] += _mark_lost(render, "worker_lost", gettext_noop("The worker stopped while rendering."))
    connection = queues.connection()
    for render in Render.objects.filter(status=Status.QUEUED, created_at__lt=now - GRACE).select_related("batch"):
        if not render.job_id or not connection.exists(Job.key_for(render.job_id)):
            counts["requeued"] += _requeue(render, gettext_noop("The queued job was lost; queued again."))
    return counts


def _remove_scratch(render: Render) -> None:
    """A killed job cannot clean up after itself: remove its scratch files
    (on this machine; other machines' workers do the same for theirs)."""
    for path in Path(settings.HEYGEM_SCRATCH_DIR).glob(f"render-{render.pk}-*"):
        shutil.rmtree(path, ignore_errors=True)


def _requeue(render: Render, line: str) -> int:
    _remove_scratch(render)
    with transaction.atomic():
        requeued = render.requeue(line)
        if requeued:
            queues.enqueue_render(render)
    if requeued:
        publish(render)
    return int(requeued)


def _mark_lost(render: Render, code: str, line: str) -> int:
    if not render.mark_lost(code, line):
        return 0
    _remove_scratch(render)
    publish(render)
    log.warning("render %s: %s", render.pk, line, extra={"render_id": render.pk})
    return 1
