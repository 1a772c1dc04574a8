"""The one place that decides who may see what.

A user sees their own projects and everything inside them; staff see all.
Anyone else gets a 404, never a 403: we do not confirm that an object exists.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from projects.models import Asset, Project, Template


def projects_for(user) -> QuerySet[Project]:
    qs = Project.objects.all()
    return qs if user.is_staff else qs.filter(owner=user)


def assets_for(user) -> QuerySet[Asset]:
    qs = Asset.objects.select_related("project")
    return qs if user.is_staff else qs.filter(project__owner=user)


def templates_for(user) -> QuerySet[Template]:
    qs = Template.objects.select_related("project", "avatar")
    return qs if user.is_staff else qs.filter(project__owner=user)


def get_project(request: HttpRequest, pk: int) -> Project:
    return get_object_or_404(projects_for(request.user), pk=pk)


def get_asset(request: HttpRequest, pk: int) -> Asset:
    return get_object_or_404(assets_for(request.user), pk=pk)


def get_template(request: HttpRequest, pk: int) -> Template:
    return get_object_or_404(templates_for(request.user), pk=pk)
