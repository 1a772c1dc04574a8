from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects.access import staff_only


@staff_only
def members(request: HttpRequest) -> HttpResponse:
    """The team: who can log in. People are added in the admin or with
    `manage.py create_member`; there is no public sign-up."""
    users = get_user_model().objects.annotate(project_count=Count("projects")).order_by("username")
    return render(request, "accounts/members.html", {"members": users})
