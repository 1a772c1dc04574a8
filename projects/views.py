from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from heygem_site.files import serve_private
from projects import access, deletion, sharing
from projects.forms import ProjectForm, RenderSettingsForm, ShareForm, TemplateForm, TransferForm
from projects.models import Activity, Asset, Member, Role
from projects.preflight import describe
from projects.uploads import ingest
from rendering.access import batches_for

#: How many of the batches and templates that use an asset its delete page names.
SHOWN_USES = 20
BATCHES_PER_PAGE = 20
PROJECTS_PER_PAGE = 60


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    projects = (
        access.with_role(access.projects_for(request.user), request.user)
        .filter(archived=show_archived)
        .annotate(
            audio_count=Count("assets", filter=Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
            video_count=Count("assets", filter=~Q(assets__kind=Asset.Kind.AUDIO), distinct=True),
            template_count=Count("templates", distinct=True),
        )
        .select_related("owner")
        .order_by("-last_activity_at", "-pk")
    )
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"projects": page.object_list, "page": page, "show_archived": show_archived}
    return render(request, "projects/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.save(commit=False)
        project.owner = request.user
        project.save()
        messages.success(request, _("Project “%(name)s” created.") % {"name": project.name})
        return redirect(project)
    return render(request, "projects/form.html", {"form": form})


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk)
    assets = list(project.assets.all())
    for asset in assets:
        asset.warnings = [describe(finding, image=asset.kind == Asset.Kind.IMAGE) for finding in asset.preflight]
    visuals = [a for a in assets if a.kind != Asset.Kind.AUDIO]
    can_edit = access.may_edit(request.user, project)
    context = {
        "project": project,
        "audios": [a for a in assets if a.kind == Asset.Kind.AUDIO],
        "visuals": visuals,
        "templates": project.templates.select_related("avatar"),
        # Counted in SQL, a page at a time: the page costs the same with 5 batches or 500.
        "batches": Paginator(
            batches_for(request.user).filter(project=project).with_counts().order_by("-created_at", "-pk"),
            BATCHES_PER_PAGE,
        ).get_page(request.GET.get("page")),
        "role": access.role_in(request.user, project),
        "can_edit": can_edit,
        # A batch needs a presenter: the project's own, or a team library template.
        "can_start": can_edit and bool(visuals or access.library_templates_for(request.user).exists()),
        "can_manage": access.may_manage(request.user, project),
    }
    return render(request, "projects/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.MANAGE)
    before = project.name
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        sharing.renamed(project, before, request.user)
        messages.success(request, _("Project saved."))
        return redirect(project)
    return render(request, "projects/form.html", {"form": form, "project": project})


@login_required
@require_POST
def project_archive(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.MANAGE)
    sharing.set_archived(project, not project.archived, request.user)
    if project.archived:
        messages.success(request, _("Project “%(name)s” archived.") % {"name": project.name})
    else:
        messages.success(request, _("Project “%(name)s” restored.") % {"name": project.name})
    return redirect("projects:list")


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.MANAGE)
    if deletion.used_elsewhere(project.assets.all(), project):
        messages.error(request, _("Other members’ batches use presenters from this project (it is in the team "
                                  "library), so it cannot be deleted. Archive it instead."))
        return redirect(project)
    plan = deletion.for_project(project)
    if request.method == "POST":
        name = project.name
        freed = plan.execute()
        messages.success(
            request,
            _("Project “%(name)s” deleted; %(size)s freed.") % {"name": name, "size": filesizeformat(freed.total_bytes)},
        )
        return redirect("projects:list")
    return render(request, "projects/confirm_delete.html", {
        "project": project, "freed": plan.freed(),
        "script_batches": plan.script_batches.order_by("-created_at")[:SHOWN_USES],
        "speeches": plan.speeches.filter(script_batch=None).order_by("-created_at")[:SHOWN_USES],
    })


@login_required
@require_POST
def asset_upload(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.EDIT)
    files = request.FILES.getlist("files")
    outcomes = [ingest(project, upload) for upload in files]
    for outcome in outcomes:
        if outcome.ok and not outcome.duplicate:
            sharing.record(project, request.user, Activity.Verb.UPLOADED, outcome.asset.original_name)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if wants_json:
        return JsonResponse(
            {
                "files": [
                    {
                        "name": o.name,
                        "ok": o.ok,
                        "duplicate": o.duplicate,
                        "error": o.error,
                        "asset": o.asset.pk if o.asset else None,
                        "url": o.asset.get_absolute_url() if o.asset else None,
                    }
                    for o in outcomes
                ]
            },
            status=200 if files else 400,
        )
    if not files:
        messages.error(request, _("Choose at least one file to upload."))
    for outcome in outcomes:
        if outcome.error:
            messages.error(request, outcome.error)
        elif outcome.duplicate:
            messages.info(
                request,
                _("%(name)s is already in this project as “%(existing)s”.")
                % {"name": outcome.name, "existing": outcome.asset.original_name},
            )
        else:
            messages.success(request, _("%(name)s uploaded.") % {"name": outcome.name})
    return redirect(project)


@login_required
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    asset = access.get_asset(request, pk)
    warnings = [describe(f, image=asset.kind == Asset.Kind.IMAGE) for f in asset.preflight]
    context = {"asset": asset, "project": asset.project, "warnings": warnings,
               "can_edit": access.may_edit(request.user, asset.project)}
    return render(request, "projects/asset.html", context)


@login_required
def asset_file(request: HttpRequest, pk: int) -> HttpResponse:
    asset = access.get_asset(request, pk)
    return serve_private(request, asset.file, asset.original_name, attachment=request.GET.get("download") == "1")


@login_required
def asset_poster(request: HttpRequest, pk: int) -> HttpResponse:
    asset = access.get_asset(request, pk)
    return serve_private(request, asset.poster, f"{asset.pk}.jpg")


@login_required
@require_http_methods(["GET", "POST"])
def asset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    asset = access.get_asset(request, pk, need=access.EDIT)
    project = asset.project
    if deletion.used_elsewhere(Asset.objects.filter(pk=asset.pk), project):
        messages.error(request, _("%(name)s is used by other members’ batches (it is in the team library), so it "
                                  "cannot be deleted.") % {"name": asset.original_name})
        return redirect(asset)
    plan = deletion.for_asset(asset)
    if request.method == "POST":
        freed = plan.execute()
        sharing.record(project, request.user, Activity.Verb.DELETED, asset.original_name)
        messages.success(
            request,
            _("%(name)s deleted; %(size)s freed.") % {"name": asset.original_name, "size": filesizeformat(freed.total_bytes)},
        )
        return redirect(project)
    context = {
        "asset": asset,
        "project": project,
        "freed": plan.freed(),
        "batches": plan.affected_batches()[:SHOWN_USES],
        "batch_count": plan.affected_batches().count(),
        "templates": plan.templates.order_by("name")[:SHOWN_USES],
        "speeches": plan.speeches.order_by("-created_at")[:SHOWN_USES],
        "script_batches": plan.script_batches.order_by("-created_at")[:SHOWN_USES],
    }
    return render(request, "projects/confirm_delete_asset.html", context)


def _presenter_to_preselect(project, asked: str | None) -> int | None:
    """The presenter a new template starts with: the one asked for, else the
    newest; never one whose face check found no face (it would fail to render),
    so a member picks that one knowingly or not at all."""
    candidates = [
        asset for asset in project.assets.filter(kind__in=[Asset.Kind.VIDEO, Asset.Kind.IMAGE]).order_by("-created_at")
        if not any(f.get("code") == "no_face" and f.get("params", {}).get("percent") == 100 for f in asset.preflight)
    ]
    asked_for = [asset for asset in candidates if str(asset.pk) == asked]
    chosen = (asked_for or candidates or [None])[0]
    return chosen.pk if chosen else None


@login_required
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.EDIT)
    initial = RenderSettingsForm.initial_from(None)
    initial["avatar"] = _presenter_to_preselect(project, request.GET.get("avatar"))
    form = TemplateForm(request.POST or None, project=project, initial=initial)
    if request.method == "POST" and form.is_valid():
        template = form.save(project)
        sharing.record(project, request.user, Activity.Verb.TEMPLATE_SAVED, template.name)
        messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
        return redirect(project)
    return render(request, "projects/template_form.html", {"form": form, "project": project})


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = access.get_template(request, pk, need=access.EDIT)
    project = template.project
    initial = {**RenderSettingsForm.initial_from(template.settings), "name": template.name, "avatar": template.avatar_id,
               **TemplateForm.voice_initial(template.settings)}
    form = TemplateForm(request.POST or None, project=project, initial=initial)
    if request.method == "POST" and form.is_valid():
        form.save(project, instance=template)
        sharing.record(project, request.user, Activity.Verb.TEMPLATE_SAVED, template.name)
        messages.success(request, _("Template “%(name)s” saved.") % {"name": template.name})
        return redirect(project)
    return render(request, "projects/template_form.html", {"form": form, "project": project, "template": template})


@login_required
@require_POST
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = access.get_template(request, pk, need=access.EDIT)
    project = template.project
    deletion.delete_template(template)
    sharing.record(project, request.user, Activity.Verb.TEMPLATE_DELETED, template.name)
    messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
    return redirect(project)


ACTIVITY_PER_PAGE = 50


@login_required
@require_http_methods(["GET", "POST"])
def project_share(request: HttpRequest, pk: int) -> HttpResponse:
    """The member list: the owner and staff share, change roles, remove members,
    give the project away; staff also mark it a team library project."""
    project = access.get_project(request, pk, need=access.MANAGE)
    form = ShareForm(request.POST if request.POST.get("action") == "share" else None)
    transfer_form = TransferForm(request.POST if request.POST.get("action") == "transfer" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "share" and form.is_valid():
            user, role = form.cleaned_data["username"], form.cleaned_data["role"]
            try:
                outcome = sharing.set_role(project, user, role, request.user)
            except sharing.SharingError as error:
                form.add_error("username", str(error))
            else:
                messages.success(request, _share_message(outcome, user.get_username(), role))
                return redirect("projects:share", project.pk)
        elif action == "transfer" and transfer_form.is_valid():
            user = transfer_form.cleaned_data["username"]
            try:
                sharing.transfer(project, user, request.user)
            except sharing.SharingError as error:
                transfer_form.add_error("username", str(error))
            else:
                messages.success(request, _("%(name)s now owns “%(project)s”; you stay on it as an editor.")
                                 % {"name": user.get_username(), "project": project.name})
                if not access.may_manage(request.user, project):
                    return redirect(project)
                return redirect("projects:share", project.pk)
        elif action == "library" and request.user.is_staff:
            project.is_library = request.POST.get("is_library") == "1"
            project.save(update_fields=["is_library"])
            if project.is_library:
                messages.success(request, _("“%(name)s” is now in the team library.") % {"name": project.name})
            else:
                messages.success(request, _("“%(name)s” is no longer in the team library.") % {"name": project.name})
            return redirect("projects:share", project.pk)
        elif action not in ("share", "transfer"):
            messages.error(request, _("That change is not available here."))
            return redirect("projects:share", project.pk)
    context = {
        "project": project,
        "members": Member.objects.filter(project=project).select_related("user"),
        "form": form,
        "transfer_form": transfer_form,
    }
    return render(request, "projects/share.html", context, status=400 if request.method == "POST" else 200)


def _share_message(outcome: str, name: str, role: str) -> str:
    if outcome == "removed":
        return _("%(name)s no longer has access to this project.") % {"name": name}
    if outcome == "unchanged":
        return _("Nothing changed for %(name)s.") % {"name": name}
    return _("%(name)s is now a member as %(role)s.") % {"name": name, "role": Role(role).label}


@login_required
def project_activity(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk)
    page = Paginator(project.activities.all(), ACTIVITY_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "projects/activity.html", {"project": project, "page": page})
