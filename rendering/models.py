from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from types import MappingProxyType

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from heygem_site.text import clean_name
from projects.models import Asset, Project, Template
from rendering.messages import error_text


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE = (Status.QUEUED, Status.RUNNING)
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
#: Renders whose output file is there to play and download (Render.has_output, in SQL).
HAS_OUTPUT = models.Q(status=Status.SUCCEEDED, output_deleted_at__isnull=True) & ~models.Q(output="")


class Stage(models.TextChoices):
    WAITING = "", _("Waiting")
    LOAD = "load", _("Loading the model")
    AUDIO = "audio", _("Reading the audio")
    DETECT = "detect", _("Detecting faces")
    INFER = "infer", _("Lip-syncing")
    ENCODE = "encode", _("Encoding")
    STORE = "store", _("Storing")


def _count_key(status: str) -> str:
    return f"count_{status}"


class RenderBatchQuerySet(models.QuerySet):
    def with_counts(self) -> RenderBatchQuerySet:
        """Each batch's items counted per status in the same query (SQL
        aggregates, no render rows fetched): what :meth:`RenderBatch.counts`
        and the batch status read, so a list of batches costs one query
        however many items they hold."""
        return self.annotate(
            **{
                _count_key(status): models.Count("renders", filter=models.Q(renders__status=status))
                for status in Status.values
            }
        )


class RenderBatch(models.Model):
    """One audio against N presenter videos or templates."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(_("name"), max_length=200)
    audio = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", verbose_name=_("audio"))
    settings = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = RenderBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("render batch")
        verbose_name_plural = _("render batches")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = clean_name(self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("rendering:batch", args=[self.pk])

    def counts(self) -> dict[str, int]:
        """Items per status, plus "total" and "finished": from the
        :meth:`RenderBatchQuerySet.with_counts` annotations when the batch
        was fetched with them, else one aggregate query."""
        if hasattr(self, _count_key(Status.QUEUED)):
            counts = {status: getattr(self, _count_key(status)) for status in Status.values}
        else:
            counts = {status: 0 for status in Status.values}
            counts.update(self.renders.order_by().values_list("status").annotate(n=models.Count("pk")))
        counts["total"] = sum(counts[s] for s in Status.values)
        counts["finished"] = sum(counts[s] for s in FINISHED)
        return counts

    @property
    def status(self) -> str:
        """Derived from the items: active while any item is; then
        succeeded, failed (none succeeded), partial, or cancelled."""
        return derive_status(self.counts())

    @property
    def status_display(self) -> str:
        status = self.status
        return _("Partly done") if status == PARTIAL else Status(status).label


PARTIAL = "partial"


def derive_status(counts: dict[str, int]) -> str:
    if counts.get(Status.RUNNING):
        return Status.RUNNING
    if counts.get(Status.QUEUED):
        return Status.QUEUED
    total = counts.get("total", 0)
    if total and counts.get(Status.SUCCEEDED) == total:
        return Status.SUCCEEDED
    if counts.get(Status.SUCCEEDED):
        return PARTIAL
    if counts.get(Status.FAILED):
        return Status.FAILED
    return Status.CANCELLED


def joined_log(existing: str, lines: Iterable[str]) -> str:
    """A log with a new, time-stamped block of lines appended."""
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    block = "\n".join(lines)
    return (existing + "\n" if existing else "") + f"--- {stamp}\n{block}"


#: Sent after the commit that moved a render to succeeded, failed or cancelled
#: (kwargs: render_id, status). Receivers (the API's webhooks) must not block:
#: they run where the change was made (a worker between two renders, or the
#: web request that cancelled).
render_finished = Signal()


#: A render's progress as before its first frame: the one definition used when
#: a render is claimed, queued again or retried.
RESET_PROGRESS = MappingProxyType(
    {"stage": Stage.WAITING, "progress": 0.0, "frames_done": 0, "frames_total": 0, "fps": None, "eta_s": None}
)


class RenderQuerySet(models.QuerySet):
    def active_of(self, user) -> RenderQuerySet:
        """Queued and running items of batches this member started (their share of the queue)."""
        return self.filter(batch__owner=user, status__in=ACTIVE)

    def claim(self, pk: int, worker_name: str, incarnation: str = "") -> bool:
        """queued -> running, for the worker that runs its job (its name, and
        which run of that name: rendering/heartbeat.py). False when the item
        is not queued any more (cancelled, or a duplicate job)."""
        return bool(
            self.filter(pk=pk, status=Status.QUEUED).update(
                **{**RESET_PROGRESS, "stage": Stage.AUDIO},
                status=Status.RUNNING, started_at=timezone.now(), finished_at=None,
                worker_name=worker_name[:200], worker_incarnation=incarnation[:32], attempts=F("attempts") + 1,
            )
        )


def _output_key(instance: Render, filename: str) -> str:
    batch = instance.batch
    return f"outputs/{batch.owner_id}/{batch.project_id}/{batch.pk}/{instance.pk}-{uuid.uuid4().hex[:12]}.mp4"


class Render(models.Model):
    """One output of a batch: a presenter video (or template) with its audio
    (the item's own when the batch has several, else the batch's)."""

    batch = models.ForeignKey(RenderBatch, on_delete=models.CASCADE, related_name="renders")
    position = models.PositiveIntegerField(default=0)
    source = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="renders", verbose_name=_("presenter"))
    template = models.ForeignKey(Template, on_delete=models.SET_NULL, null=True, blank=True, related_name="renders")
    # Set when the batch pairs several recordings with its presenters; empty: the batch's audio.
    audio = models.ForeignKey(Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="voiced_renders",
                              verbose_name=_("audio"))
    settings = models.JSONField(default=dict)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.WAITING, blank=True)
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    progress = models.FloatField(default=0.0)  # 0..1 over the whole render
    fps = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True)  # for the user: why it failed, or notes
    log = models.TextField(blank=True)  # for the user: no tracebacks, no host names
    # For staff only (admin, render page): tracebacks of unexpected errors.
    internal_log = models.TextField(blank=True)

    output = models.FileField(upload_to=_output_key, blank=True, max_length=300)
    output_size = models.BigIntegerField(null=True, blank=True)
    output_deleted_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    faceless_frames = models.PositiveIntegerField(null=True, blank=True)

    timings = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    job_id = models.CharField(max_length=64, blank=True, db_index=True)
    worker_name = models.CharField(max_length=200, blank=True)
    # Which start of that worker claimed it: a name may be reused by a restart.
    worker_incarnation = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RenderQuerySet.as_manager()

    class Meta:
        ordering = ["batch", "position"]
        indexes = [models.Index(fields=["status", "created_at"])]
        verbose_name = _("render")
        verbose_name_plural = _("renders")

    def __str__(self) -> str:
        return f"{self.batch.name} / {self.source.original_name}"

    def get_absolute_url(self) -> str:
        return reverse("rendering:render", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def has_output(self) -> bool:
        return self.status == Status.SUCCEEDED and bool(self.output) and self.output_deleted_at is None

    @property
    def error_display(self) -> str:
        """Why it failed, in the user's language ("" unless it failed)."""
        if self.status != Status.FAILED:
            return ""
        return error_text(self.error_code, self.message, image=self.source.kind == Asset.Kind.IMAGE)

    @property
    def speech(self) -> Asset:
        """The audio this item speaks."""
        return self.audio if self.audio_id else self.batch.audio

    @property
    def presenter_title(self) -> str:
        return self.template.name if self.template else self.source.original_name

    @property
    def title(self) -> str:
        """The presenter; "recording × presenter" when the batch has several recordings."""
        if not self.audio_id:
            return self.presenter_title
        return f"{self.audio.original_name.rsplit('.', 1)[0]} × {self.presenter_title}"

    @property
    def presenter_stem(self) -> str:
        return self.presenter_title if self.template_id else self.presenter_title.rsplit(".", 1)[0]

    @property
    def file_stem(self) -> str:
        if not self.audio_id:
            return self.presenter_stem
        return f"{self.audio.original_name.rsplit('.', 1)[0]} - {self.presenter_stem}"

    @property
    def download_name(self) -> str:
        return f"{self.file_stem} - {self.batch.name}.mp4"

    def event(self, message: str = "") -> dict:
        """The progress payload (DESIGN.md), one shape for every event."""
        return {
            "type": "render.progress",
            "batch": self.batch_id,
            "render": self.pk,
            "status": self.status,
            "stage": self.stage,
            "done": self.frames_done,
            "total": self.frames_total,
            "progress": round(self.progress, 4),
            "fps": round(self.fps, 1) if self.fps else None,
            "eta_s": round(self.eta_s) if self.eta_s is not None else None,
            "message": message or self.message,
        }

    # --- state changes: each one method, under the row's lock ---------------------
    # claim is RenderQuerySet.claim (the worker knows only the id). Each method
    # returns whether the state changed; lines given are appended to the log
    # either way (a worker's last lines after a cancel, for instance).

    def succeed(self, output: Callable[[Render], None], *, lines: Iterable[str] = (), **facts) -> bool:
        """running -> succeeded. `output(locked_row)` stores the file, under the
        lock, so a render cancelled meanwhile gets no output."""

        def changes(locked: Render) -> dict:
            output(locked)
            return {
                **facts, "output": locked.output, "output_size": locked.output.size, "status": Status.SUCCEEDED,
                "progress": 1.0, "eta_s": 0, "error_code": "", "message": "", "finished_at": timezone.now(),
            }

        return self._change((Status.RUNNING,), changes, lines=lines)

    def fail(self, code: str, message: str, *, lines: Iterable[str] = (), internal: Iterable[str] = ()) -> bool:
        """running -> failed, with an error code the pages translate."""
        changes = {"status": Status.FAILED, "error_code": code, "message": message,
                   "finished_at": timezone.now(), "eta_s": None}
        return self._change((Status.RUNNING,), changes, lines=lines, internal=internal)

    def cancel(self, *, lines: Iterable[str] = ()) -> bool:
        """queued or running -> cancelled."""
        changes = {"status": Status.CANCELLED, "finished_at": timezone.now(), "eta_s": None, "fps": None}
        return self._change(ACTIVE, changes, lines=lines)

    def requeue(self, line: str) -> bool:
        """Queued again (its worker or its job was lost), only if the row is still
        as it was read: same state, same job."""
        if self.status not in ACTIVE:
            return False
        changes = {**RESET_PROGRESS, "status": Status.QUEUED}
        return self._change((self.status,), changes, lines=[line], job_id=self.job_id)

    def mark_lost(self, code: str, line: str) -> bool:
        """running -> failed, its worker gone; only if it still runs the same job."""
        changes = {"status": Status.FAILED, "error_code": code, "message": line,
                   "finished_at": timezone.now(), "eta_s": None, "fps": None}
        return self._change((Status.RUNNING,), changes, lines=[line], job_id=self.job_id)

    def retry(self) -> bool:
        """failed or cancelled -> queued, as new (same row; the caller queues a new job)."""
        changes = {**RESET_PROGRESS, "status": Status.QUEUED, "error_code": "", "message": "",
                   "started_at": None, "finished_at": None}
        return self._change((Status.FAILED, Status.CANCELLED), changes)

    def _change(self, allowed: Collection[str], changes: dict | Callable[[Render], dict], *,
                lines: Iterable[str] = (), internal: Iterable[str] = (), job_id: str | None = None) -> bool:
        lines, internal = list(lines), list(internal)
        with transaction.atomic():
            locked = Render.objects.select_for_update().filter(pk=self.pk).first()
            if locked is None:  # deleted with its project or presenter while the worker was busy
                return False
            changed = locked.status in allowed and (job_id is None or locked.job_id == job_id)
            fields: set[str] = set()
            if changed:
                values = changes(locked) if callable(changes) else changes
                for name, value in values.items():
                    setattr(locked, name, value)
                fields.update(values)
            if lines:
                locked.log = joined_log(locked.log, lines)
                fields.add("log")
            if internal:
                locked.internal_log = joined_log(locked.internal_log, internal)
                fields.add("internal_log")
            if fields:
                locked.save(update_fields=[*fields, "updated_at"])
            if changed and locked.status in FINISHED:
                pk, status = locked.pk, locked.status
                transaction.on_commit(lambda: render_finished.send_robust(Render, render_id=pk, status=status))
        # Copied rather than refresh_from_db(), which would drop the cached
        # batch, source and audio the caller goes on using.
        for field in self._meta.concrete_fields:
            setattr(self, field.attname, getattr(locked, field.attname))
        return changed
