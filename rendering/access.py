"""Who may see which batch and render: the owner, and staff. Everyone else
gets a 404 (see projects/access.py)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from rendering.models import Render, RenderBatch


def batches_for(user) -> QuerySet[RenderBatch]:
    qs = RenderBatch.objects.all()
    return qs if user.is_staff else qs.filter(owner=user)


def renders_for(user) -> QuerySet[Render]:
    qs = Render.objects.all()
    return qs if user.is_staff else qs.filter(batch__owner=user)


def get_batch(request: HttpRequest, pk: int) -> RenderBatch:
    return get_object_or_404(batches_for(request.user).select_related("project", "audio", "owner"), pk=pk)


def get_render(request: HttpRequest, pk: int) -> Render:
    return get_object_or_404(
        renders_for(request.user).select_related("batch", "batch__project", "batch__audio", "source", "template"),
        pk=pk,
    )
