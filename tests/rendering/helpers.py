"""Building projects with uploaded media and batches for rendering tests."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from projects.models import Asset, Project, default_render_settings
from projects.uploads import ingest
from rendering import services
from rendering.models import Render, Status


def add_asset(project: Project, path: Path, name: str | None = None) -> Asset:
    outcome = ingest(project, SimpleUploadedFile(name or path.name, path.read_bytes()))
    assert outcome.ok, outcome.error
    return outcome.asset


def start_batch(user, project: Project, audio: Asset, videos: list[Asset], name: str = "Lesson 1", **settings):
    values = {**default_render_settings(), **settings}
    return services.create_batch(user, project, name, audio, [services.Item(v) for v in videos], values)


def finish(render: Render, content: bytes = b"fake-mp4-bytes-for-download-tests", *, days_ago: float = 0) -> Render:
    """Mark a render done with an output file. The bytes stand in for a video:
    these tests are about pages, downloads and cleanup; jobs are tested elsewhere."""
    render.output.save("output.mp4", ContentFile(content), save=False)
    render.status = Status.SUCCEEDED
    render.output_size = len(content)
    render.finished_at = timezone.now() - timezone.timedelta(days=days_ago)
    render.save()
    return render


def wait_until(predicate, timeout: float = 120.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")


def statuses(batch) -> list[str]:
    return list(Render.objects.filter(batch=batch).order_by("position").values_list("status", flat=True))


def all_finished(batch) -> bool:
    return all(s in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED) for s in statuses(batch))
