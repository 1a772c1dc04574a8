"""Who may see and act on which batch and render: whoever may see (or, with
``need``, edit) its project (see projects/access.py), not whoever started the
batch. Everyone else gets a 404; a viewer who asks for an editor's action
gets a 403. A team library project's batches are its team's own: members who
see the library only as the library (not as members) do not see them."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from projects.access import EDIT, MANAGE, VIEW, in_visible_projects, require
from rendering.models import Render, RenderBatch

__all__ = ["EDIT", "MANAGE", "VIEW", "batches_for", "get_batch", "get_render", "renders_for"]


def batches_for(user, need: str = VIEW) -> QuerySet[RenderBatch]:
    return in_visible_projects(RenderBatch.objects.all(), user, need=need, library=False)


def renders_for(user, need: str = VIEW) -> QuerySet[Render]:
    return in_visible_projects(Render.objects.all(), user, "batch__project", need=need, library=False)


def get_batch(request: HttpRequest, pk: int, need: str = VIEW) -> RenderBatch:
    batch = get_object_or_404(batches_for(request.user).select_related("project", "audio", "owner"), pk=pk)
    require(request.user, batch.project, need)
    return batch


def get_render(request: HttpRequest, pk: int, need: str = VIEW) -> Render:
    item = get_object_or_404(
        renders_for(request.user).select_related("batch", "batch__project", "batch__audio", "audio", "source", "template"),
        pk=pk,
    )
    require(request.user, item.batch.project, need)
    return item
