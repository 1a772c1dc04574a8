"""Deleting a project or an asset with everything that depends on it.

The foreign keys to an asset are PROTECT (a batch's audio, a render's
presenter, a template's avatar), so a plain ``delete()`` of a project with
batches, or of an asset in use, raises ``ProtectedError``. Here the dependents
are removed explicitly, in order (renders, batches, templates, assets), after
the confirmation page has said what goes and how much space it frees:

- a project: its assets, templates, batches, renders, and every file of them
  (uploads, posters, outputs);
- an asset: the batches whose voice recording it is, the renders it is the
  presenter or the own recording of (a batch left with no render goes too;
  a batch of several recordings keeps the items of the others), the
  templates built on it, and their outputs.

Speech from scripts: a project's speeches and script batches go with it; a
speech whose audio is deleted keeps its script (its page says the audio was
deleted), and a script batch whose videos go keeps its list of scripts. The
confirmation page lists both (``speeches``, ``script_batches``).

Active renders are cancelled first, so their jobs leave the queue and a running
worker stops. Files are deleted through each field's storage (local disk or
S3) once the rows are gone; a file that cannot be deleted is logged and left
in place, never an error for the user.

A template is deleted alone: the renders made from it keep their settings
snapshot and their outputs (``Render.template`` is SET_NULL).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.fields.files import FieldFile

from projects.models import Asset, Project, Template
from rendering.models import ACTIVE, HAS_OUTPUT, Render, RenderBatch
from rendering.services import cancel_render

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Freed:
    """How much a deletion removes, summed in the database."""

    assets: int
    upload_bytes: int
    templates: int
    batches: int
    renders: int
    active: int
    output_bytes: int
    speeches: int = 0  # speeches from scripts deleted (a project) or left without their audio (an asset)
    script_batches: int = 0  # "videos from scripts" deleted, or losing speeches or videos
    speaking: int = 0  # scripts queued or being spoken, stopped (a project)

    @property
    def total_bytes(self) -> int:
        return self.upload_bytes + self.output_bytes


@dataclass(frozen=True)
class Deletion:
    """What deleting one project or asset removes. Build it with
    :func:`for_project` or :func:`for_asset`; the querysets are evaluated
    when used, so the confirmation page and the deletion see the database
    as it is at that moment."""

    assets: QuerySet[Asset]
    templates: QuerySet[Template]
    batches: QuerySet[RenderBatch]  # removed whole
    renders: QuerySet[Render]  # every render removed, in those batches or not
    project: Project | None = None
    speeches: QuerySet | None = None  # speech.Speech
    script_batches: QuerySet | None = None  # speech.ScriptBatch

    def freed(self) -> Freed:
        uploads = self.assets.aggregate(count=Count("pk"), size=Sum("size"))
        renders = self.renders.aggregate(
            count=Count("pk"),
            active=Count("pk", filter=Q(status__in=ACTIVE)),
            size=Sum("output_size", filter=HAS_OUTPUT),
        )
        return Freed(
            assets=uploads["count"],
            upload_bytes=uploads["size"] or 0,
            templates=self.templates.count(),
            batches=self.batches.count(),
            renders=renders["count"],
            active=renders["active"],
            output_bytes=renders["size"] or 0,
            speeches=self.speeches.count() if self.speeches is not None else 0,
            script_batches=self.script_batches.count() if self.script_batches is not None else 0,
            speaking=self._speaking(),
        )

    def _speaking(self) -> int:
        if self.project is None or self.speeches is None:
            return 0
        from speech.models import ScriptBatch, Speech

        active = (Speech.Status.QUEUED, Speech.Status.RUNNING)
        return (self.speeches.filter(status__in=active, script_batch=None).count()
                + self.script_batches.filter(status__in=(ScriptBatch.Status.QUEUED, ScriptBatch.Status.RUNNING)).count())

    def affected_batches(self) -> QuerySet[RenderBatch]:
        """Every batch that loses a render (or goes whole), for the page."""
        return RenderBatch.objects.filter(
            Q(pk__in=self.batches.values("pk")) | Q(pk__in=self.renders.values("batch_id"))
        ).order_by("-created_at")

    def execute(self) -> Freed:
        freed = self.freed()
        for render in self.renders.filter(status__in=ACTIVE):
            cancel_render(render)
        with transaction.atomic():
            # Locking the project and its assets first keeps anything from
            # starting to use them halfway through (PostgreSQL makes a new row
            # that points to a locked one wait; SQLite writes one at a time).
            # Locked renders: a worker storing its output right now either
            # finished before (and its file is listed here) or finds its row gone.
            if self.project is not None:
                list(Project.objects.select_for_update().filter(pk=self.project.pk).values_list("pk"))
            assets = list(self.assets.select_for_update().only("pk", "file", "poster"))
            renders = list(self.renders.select_for_update().only("pk", "output"))
            files = [_stored(f) for asset in assets for f in (asset.file, asset.poster)]
            files += [_stored(r.output) for r in renders]
            self.renders.delete()
            self.batches.delete()
            for batch in RenderBatch.objects.filter(audio__in=self.assets).exclude(renders=None):
                # Its first recording goes; the batch now shows one of those it keeps.
                batch.audio_id = batch.renders.order_by("position").values_list("audio_id", flat=True).first()
                batch.save(update_fields=["audio"])
            self.templates.delete()
            # Speeches of these recordings keep their script; their asset becomes empty (SET_NULL).
            self.assets.delete()
            if self.project is not None:
                # A speech job still running finds its row gone and stores nothing (speech/jobs.py).
                if self.script_batches is not None:
                    self.script_batches.delete()
                if self.speeches is not None:
                    self.speeches.delete()
                self.project.delete()
        for storage, name in filter(None, files):
            try:
                storage.delete(name)
            except Exception:  # an unreachable bucket must not turn a finished deletion into an error page
                log.warning("could not delete %s from storage; it is left there", name, exc_info=True)
        return freed


def for_project(project: Project) -> Deletion:
    return _plan(project.assets.all(), project)


def for_asset(asset: Asset) -> Deletion:
    return _plan(Asset.objects.filter(pk=asset.pk))


def delete_template(template: Template) -> None:
    """The renders made from it stay, with their settings and outputs."""
    template.delete()


def _plan(assets: QuerySet[Asset], project: Project | None = None) -> Deletion:
    from speech.models import ScriptBatch, Speech

    # The project's own batches and templates, and, should the admin have
    # mixed projects, any other that uses one of its assets.
    in_project = Q(project=project) if project is not None else Q(pk__in=[])
    # A batch of several recordings (every item has its own) only loses the
    # items of the deleted recording; one that speaks its batch audio goes whole.
    # (Asked as "has an item with another recording", which deleting the
    # renders first does not change: the querysets are evaluated again then.)
    keeps_another = Exists(Render.objects.filter(batch=OuterRef("pk"), audio__isnull=False).exclude(audio__in=assets))
    whole = Q(pk__in=RenderBatch.objects.filter(~keeps_another, audio__in=assets).values("pk")) | in_project
    uses = Q(source__in=assets) | Q(audio__in=assets)
    used = set(Render.objects.filter(uses).values_list("batch_id", flat=True))
    # A batch left without a single render would be an empty row on the project page.
    kept = set(Render.objects.filter(batch_id__in=used).exclude(uses).values_list("batch_id", flat=True))
    whole |= Q(pk__in=used - kept)
    renders = Render.objects.filter(uses | Q(batch__in=RenderBatch.objects.filter(whole)))
    if project is not None:
        speeches = Speech.objects.filter(project=project)
        script_batches = ScriptBatch.objects.filter(project=project)
    else:
        speeches = Speech.objects.filter(asset__in=assets)
        # Those whose speeches lose their audio, or whose batch loses videos.
        script_batches = ScriptBatch.objects.filter(
            Q(pk__in=speeches.exclude(script_batch=None).values("script_batch_id"))
            | Q(batch__in=renders.values("batch_id")))
    return Deletion(
        assets=assets,
        templates=Template.objects.filter(Q(avatar__in=assets) | in_project),
        batches=RenderBatch.objects.filter(whole),
        renders=renders,
        project=project,
        speeches=speeches,
        script_batches=script_batches,
    )


def _stored(field: FieldFile) -> tuple[Storage, str] | None:
    return (field.storage, field.name) if field else None


def used_elsewhere(assets: QuerySet[Asset], project: Project) -> int:
    """How many renders and templates of *other* projects use these files: a
    team library's presenters picked in members' own batches. Deleting them
    would delete those members' renders too, so the pages refuse."""
    renders = Render.objects.filter(source__in=assets).exclude(batch__project=project).count()
    return renders + Template.objects.filter(avatar__in=assets).exclude(project=project).count()
