"""The dashboard: the home page of a logged-in user.

Every list here is bounded and counted in SQL, so the page costs the same
number of queries and rows however much history the user has."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.access import projects_for, with_role
from projects.models import Asset
from rendering.access import batches_for, renders_for
from rendering.models import ACTIVE, HAS_OUTPUT, Render, Status

RECENT_PROJECTS = 6
RECENT_RESULTS = 6
RUNNING_BATCHES = 10
#: Items shown as running across those batches (one per busy worker, in practice).
RUNNING_ITEMS = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    projects = (
        with_role(projects_for(user), user)
        .filter(archived=False)
        .select_related("owner")
        .annotate(
            audio_count=Count("assets", filter=Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
            video_count=Count("assets", filter=~Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
        )
        .order_by("-last_activity_at")[:RECENT_PROJECTS]
    )
    running = list(
        batches_for(user)
        .filter(Exists(Render.objects.filter(batch=OuterRef("pk"), status__in=ACTIVE)))
        .with_counts()
        .annotate(running_progress=Sum("renders__progress", filter=Q(renders__status=Status.RUNNING)))
        .select_related("project")
        .order_by("-created_at", "-pk")[:RUNNING_BATCHES]
    )
    items = (
        Render.objects.filter(batch__in=[batch.pk for batch in running], status=Status.RUNNING)
        .select_related("source", "template")
        .order_by("batch", "position")[:RUNNING_ITEMS]
    )
    by_batch: dict[int, list[Render]] = {}
    for item in items:
        by_batch.setdefault(item.batch_id, []).append(item)
    for batch in running:
        counts = batch.counts()
        batch.total = counts["total"]
        batch.finished = counts["finished"]
        batch.outcomes = counts  # "2 succeeded, 1 failed, 1 running": a failure is never hidden in "3 of 4 done"
        batch.progress = (batch.finished + (batch.running_progress or 0.0)) / (batch.total or 1)
        batch.running_items = by_batch.get(batch.pk, [])
        batch.current = batch.running_items[0] if batch.running_items else None
    results = (
        renders_for(user)
        .filter(HAS_OUTPUT)
        .select_related("batch", "batch__project", "source", "template")
        .order_by("-finished_at", "-pk")[:RECENT_RESULTS]
    )
    context = {"projects": projects, "running": running, "results": results}
    return render(request, "dashboard.html", context)
