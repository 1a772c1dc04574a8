"""Who may see which batch and render: whoever may see its project (see
projects/access.py), not whoever started the batch. Everyone else gets a 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from projects.access import in_visible_projects
from rendering.models import Render, RenderBatch


def batches_for(user) -> QuerySet[RenderBatch]:
    return in_visible_projects(RenderBatch.objects.all(), user)


def renders_for(user) -> QuerySet[Render]:
    return in_visible_projects(Render.objects.all(), user, "batch__project")


def get_batch(request: HttpRequest, pk: int) -> RenderBatch:
    return get_object_or_404(batches_for(request.user).select_related("project", "audio", "owner"), pk=pk)


def get_render(request: HttpRequest, pk: int) -> Render:
    return get_object_or_404(
        renders_for(request.user).select_related("batch", "batch__project", "batch__audio", "audio", "source", "template"),
        pk=pk,
    )
