"""Numbers for the staff dashboard: disk use, queues, work per member, workers."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import django_rq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Q, Sum
from rq.registry import FailedJobRegistry, StartedJobRegistry

from projects.models import Asset, Project
from rendering import queues as gpu_queues
from rendering import shared_cache
from rendering.heartbeat import worker_info
from rendering.models import ACTIVE, HAS_OUTPUT, Render, Status


def cache_bytes() -> int:
    """This machine's worker caches, plus the copies shared in the bucket."""
    root = Path(settings.HEYGEM_CACHE_DIR)
    local = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0
    return local + sum(size for _key, size in shared_cache.bucket_entries())


def disk_usage() -> dict:
    uploads = Asset.objects.aggregate(total=Sum("size"))["total"] or 0
    outputs = Render.objects.filter(HAS_OUTPUT).aggregate(total=Sum("output_size"))["total"] or 0
    caches = cache_bytes()
    users = (
        get_user_model().objects.annotate(
            uploads=Sum("projects__assets__size", distinct=True),
        ).order_by("username")
    )
    output_by_user = dict(
        Render.objects.filter(HAS_OUTPUT).values_list("batch__owner").annotate(total=Sum("output_size"))
    )
    by_user = [
        {"user": u, "uploads": u.uploads or 0, "outputs": output_by_user.get(u.pk, 0)} for u in users
    ]
    by_user = [row for row in by_user if row["uploads"] or row["outputs"]]
    upload_by_project = dict(Asset.objects.values_list("project").annotate(total=Sum("size")))
    output_by_project = dict(
        Render.objects.filter(HAS_OUTPUT).values_list("batch__project").annotate(total=Sum("output_size"))
    )
    projects = Project.objects.filter(pk__in=set(upload_by_project) | set(output_by_project)).select_related("owner")
    by_project = sorted(
        (
            {"project": p, "uploads": upload_by_project.get(p.pk, 0), "outputs": output_by_project.get(p.pk, 0)}
            for p in projects
        ),
        key=lambda row: -(row["uploads"] + row["outputs"]),
    )
    live = Render.objects.filter(HAS_OUTPUT).select_related("batch", "batch__owner", "source")
    free = None
    if not shared_cache.enabled():  # a bucket has no "free space"
        Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(settings.MEDIA_ROOT)
    return {
        "kinds": {"uploads": uploads, "outputs": outputs, "caches": caches},
        "total": uploads + outputs + caches,
        "by_user": by_user,
        "by_project": by_project[:50],
        "largest": live.order_by("-output_size")[:10],
        "oldest": live.order_by("finished_at")[:10],
        "free": free,
    }


def queues() -> list[dict]:
    """`gpu` (every member's GPU queue together) and `default`."""
    conn = gpu_queues.connection()
    groups = {
        "gpu": [gpu_queues.gpu_queue(name, conn) for name in gpu_queues.gpu_queue_names(conn)],
        "default": [django_rq.get_queue("default")],
    }
    return [
        {
            "name": name,
            "queued": sum(q.count for q in group),
            "running": sum(StartedJobRegistry(queue=q).count for q in group),
            "failed": sum(FailedJobRegistry(queue=q).count for q in group),
        }
        for name, group in groups.items()
    ]


def member_work() -> list[dict]:
    """Each member's queued and running items (of batches they started), and
    when their oldest queued item was queued; most work first."""
    rows = (
        Render.objects.filter(status__in=ACTIVE)
        .values("batch__owner", "batch__owner__username")
        .annotate(
            queued=Count("pk", filter=Q(status=Status.QUEUED)),
            running=Count("pk", filter=Q(status=Status.RUNNING)),
            oldest_queued=Min("created_at", filter=Q(status=Status.QUEUED)),
        )
        .order_by("-queued", "batch__owner__username")
    )
    return [
        {"user_id": row["batch__owner"], "username": row["batch__owner__username"], "queued": row["queued"],
         "running": row["running"], "oldest_queued": row["oldest_queued"]}
        for row in rows
    ]


def workers() -> list[dict]:
    """Every live worker, on any machine: its host, device, the render it is
    on (from its heartbeat) and how long ago it last beat."""
    now = time.time()
    rows = worker_info()
    ids = {int(row["render"]) for row in rows if row.get("render", "").isdigit()}
    renders = Render.objects.select_related("batch").in_bulk(ids)
    for row in rows:
        row["heartbeat_age"] = round(now - float(row.get("heartbeat", now)))
        row["model_loaded"] = row.get("model_loaded") == "1"
        render_id = row.get("render", "")
        row["current_render"] = renders.get(int(render_id)) if render_id.isdigit() else None
    return rows


def render_counts() -> dict:
    return Render.objects.aggregate(**{s: Count("pk", filter=Q(status=s)) for s in Status.values})
