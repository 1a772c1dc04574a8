"""The dashboard: the home page of a logged-in user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.access import projects_for
from projects.models import Asset
from rendering.access import batches_for, renders_for
from rendering.models import ACTIVE, HAS_OUTPUT, Render, Status

RECENT_PROJECTS = 6
RECENT_RESULTS = 6
RUNNING_BATCHES = 10


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    projects = (
        projects_for(user)
        .filter(archived=False)
        .annotate(
            audio_count=Count("assets", filter=Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
            video_count=Count("assets", filter=~Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
        )
        .order_by("-last_activity_at")[:RECENT_PROJECTS]
    )
    running = list(
        batches_for(user)
        .filter(renders__status__in=ACTIVE)
        .distinct()
        .select_related("project")
        .prefetch_related(Prefetch("renders", queryset=Render.objects.select_related("source", "template")))
        .order_by("-created_at")[:RUNNING_BATCHES]
    )
    for batch in running:
        items = list(batch.renders.all())
        batch.items = items
        batch.finished = sum(r.status not in ACTIVE for r in items)
        batch.progress = sum(1.0 if r.status not in ACTIVE else r.progress for r in items) / (len(items) or 1)
        batch.current = next((r for r in items if r.status == Status.RUNNING), None)
    results = (
        renders_for(user)
        .filter(HAS_OUTPUT)
        .select_related("batch", "batch__project", "source", "template")
        .order_by("-finished_at", "-pk")[:RECENT_RESULTS]
    )
    context = {"projects": projects, "running": running, "results": results}
    return render(request, "dashboard.html", context)
