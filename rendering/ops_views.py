"""The staff dashboard: disk, queues, work per member, workers, cleanup.
Anyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from projects.access import staff_only
from rendering import cleanup, ops, quotas, services
from rendering.ops_forms import CleanupForm


@staff_only
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "disk": ops.disk_usage(),
        "queues": ops.queues(),
        "members": ops.member_work(),
        "workers": ops.workers(),
        "counts": ops.render_counts(),
        "cleanup_form": CleanupForm(),
    }
    return render(request, "ops/dashboard.html", context)


@staff_only
@require_http_methods(["GET", "POST"])
def cleanup_view(request: HttpRequest) -> HttpResponse:
    """GET with the form's fields: the dry run. POST: delete what the dry run
    listed (the keys it showed), nothing more."""
    form = CleanupForm(request.POST or request.GET or None)
    if not form.is_bound or not form.is_valid():
        return render(request, "ops/cleanup.html", {"form": form, "items": None})
    scope = form.scope()
    if request.method == "POST":
        keys = set(request.POST.getlist("key"))
        deleted = cleanup.execute(scope, keys)
        messages.success(
            request,
            _("Freed %(size)s in %(count)d item(s).")
            % {"size": filesizeformat(sum(c.size for c in deleted)), "count": len(deleted)},
        )
        return redirect("ops:dashboard")
    items = cleanup.plan(scope)
    return render(
        request, "ops/cleanup.html", {"form": form, "items": items, "total": sum(c.size for c in items)}
    )


@staff_only
@require_http_methods(["GET", "POST"])
def cancel_member_work(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: what would be cancelled, and a confirmation button. POST: cancel
    every queued and running item of batches this member started."""
    member = get_object_or_404(get_user_model(), pk=user_id)
    if request.method == "POST":
        count = services.cancel_member_work(member)
        messages.success(
            request, _("%(count)d item(s) of %(user)s cancelled.") % {"count": count, "user": member.get_username()}
        )
        return redirect("ops:dashboard")
    count = quotas.active_items(member)
    return render(request, "ops/cancel_member.html", {"member": member, "count": count})
