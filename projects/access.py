"""The one place that decides who may see and do what.

A project is seen by its owner, by the members it is shared with (see
projects.models.Member: *viewer* or *editor*), by staff, and, when staff have
marked it a team library project, by every logged-in member (as a viewer).
Everything inside follows the project: assets, templates, batches, renders,
their files, logs and live progress. When staff give a project to another
member, everything in it moves with it, whoever started a batch.

Three levels, each including the one before:

- ``VIEW``: see pages, download files and zips, watch live progress;
- ``EDIT`` (editors, the owner, staff): upload, delete assets, create, change
  and delete templates, start, cancel, retry and re-run batches;
- ``MANAGE`` (the owner and staff): rename, archive, delete the project,
  share it, change roles, give it to someone else.

Anyone who may not see a project gets a 404, never a 403: we do not confirm
that an object exists. A 403 only answers someone who may see the object but
asks for more than their role allows (a viewer posting a cancel). Staff-only
pages answer 404 to members too (a redirect to the login page would loop for
someone already logged in).

The functions without a ``need`` argument keep their meaning "what this user
may see"; pass ``need=EDIT`` or ``need=MANAGE`` (or use the ``*_editable_by``
querysets) where a view changes something.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Model, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from projects.models import OWNER, ROLE_RANK, Asset, Member, Project, Role, Template

M = TypeVar("M", bound=Model)

VIEW = Role.VIEWER
EDIT = Role.EDITOR
MANAGE = OWNER


def _project_ids(user, need: str = VIEW, library: bool = True) -> QuerySet[Project] | None:
    """The ids of the projects `user` may act on at level `need` (a subquery),
    or None for "all of them" (staff). `library`: whether library projects
    count for everyone (their assets and templates do; their batches and
    renders are their team's own)."""
    if user.is_staff:
        return None
    if not user.is_authenticated:
        return Project.objects.none().values("pk")
    mine = Q(owner=user)
    if need == VIEW:
        mine |= Q(members__user=user)
        if library:
            mine |= Q(is_library=True)
    elif need == EDIT:
        mine |= Q(members__user=user, members__role=Role.EDITOR)
    return Project.objects.filter(mine).values("pk")


def in_visible_projects(
    qs: QuerySet[M], user, project: str = "project", need: str = VIEW, *, library: bool = True
) -> QuerySet[M]:
    """Narrow `qs` to rows whose project (reached by the lookup path
    `project`, "" for projects themselves) `user` may see (or, with `need`,
    edit or manage). `library=False` leaves out the library projects a user
    sees only because they are the team library (for batches and renders)."""
    ids = _project_ids(user, need, library)
    if ids is None:
        return qs
    return qs.filter(**{f"{project}__in" if project else "pk__in": ids})


def projects_for(user, need: str = VIEW) -> QuerySet[Project]:
    return in_visible_projects(Project.objects.all(), user, "", need)


def assets_for(user, need: str = VIEW) -> QuerySet[Asset]:
    return in_visible_projects(Asset.objects.select_related("project"), user, need=need)


def templates_for(user, need: str = VIEW) -> QuerySet[Template]:
    return in_visible_projects(Template.objects.select_related("project", "avatar"), user, need=need)


def with_role(projects: QuerySet[Project], user) -> QuerySet[Project]:
    """Annotate `my_role`: the user's role in each project ("owner", "editor",
    "viewer"; staff count as owners), for lists that mark shared projects."""
    if user.is_staff:
        return projects.annotate(my_role=Value(OWNER))
    member_role = Member.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return projects.annotate(
        my_role=Case(
            When(owner=user, then=Value(OWNER)),
            default=Coalesce(Subquery(member_role), Value(Role.VIEWER.value)),
        )
    )


def library_templates_for(user) -> QuerySet[Template]:
    """Templates of team library projects: what every member may pick in their own batches."""
    return templates_for(user).filter(project__is_library=True)


def role_in(user, project: Project) -> str | None:
    """"owner" (also for staff), "editor", "viewer", or None (no access)."""
    if not user.is_authenticated:
        return None
    if user.is_staff or project.owner_id == user.pk:
        return OWNER
    role = Member.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if role:
        return role
    return Role.VIEWER if project.is_library else None


def may(user, project: Project, need: str) -> bool:
    role = role_in(user, project)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[need]


def may_edit(user, project: Project) -> bool:
    return may(user, project, EDIT)


def may_manage(user, project: Project) -> bool:
    return may(user, project, MANAGE)


def require(user, project: Project, need: str) -> None:
    """For an object `user` may see: PermissionDenied (403) when their role is below `need`."""
    if need != VIEW and not may(user, project, need):
        raise PermissionDenied


def get_project(request: HttpRequest, pk: int, need: str = VIEW) -> Project:
    project = get_object_or_404(projects_for(request.user), pk=pk)
    require(request.user, project, need)
    return project


def get_asset(request: HttpRequest, pk: int, need: str = VIEW) -> Asset:
    asset = get_object_or_404(assets_for(request.user), pk=pk)
    require(request.user, asset.project, need)
    return asset


def get_template(request: HttpRequest, pk: int, need: str = VIEW) -> Template:
    template = get_object_or_404(templates_for(request.user), pk=pk)
    require(request.user, template.project, need)
    return template


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; logged-in members get a 404."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
