"""The one place that decides who may see what.

A user sees the projects they own and everything inside them: assets,
templates, batches, renders, their files, logs and live progress. Staff see
all. Access follows the *project*: when staff give a project to another member,
everything in it moves with it, whoever started a batch. Anyone else gets a
404, never a 403: we do not confirm that an object exists. Staff-only pages
answer 404 to members too (a redirect to the login page would loop for someone
already logged in).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from projects.models import Asset, Project, Template

M = TypeVar("M", bound=Model)


def in_visible_projects(qs: QuerySet[M], user, project: str = "project") -> QuerySet[M]:
    """Narrow `qs` to rows whose project (reached by the lookup path
    `project`, "" for projects themselves) `user` may see."""
    if user.is_staff:
        return qs
    return qs.filter(**{f"{project}__owner" if project else "owner": user})


def projects_for(user) -> QuerySet[Project]:
    return in_visible_projects(Project.objects.all(), user, "")


def assets_for(user) -> QuerySet[Asset]:
    return in_visible_projects(Asset.objects.select_related("project"), user)


def templates_for(user) -> QuerySet[Template]:
    return in_visible_projects(Template.objects.select_related("project", "avatar"), user)


def get_project(request: HttpRequest, pk: int) -> Project:
    return get_object_or_404(projects_for(request.user), pk=pk)


def get_asset(request: HttpRequest, pk: int) -> Asset:
    return get_object_or_404(assets_for(request.user), pk=pk)


def get_template(request: HttpRequest, pk: int) -> Template:
    return get_object_or_404(templates_for(request.user), pk=pk)


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; logged-in members get a 404."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
