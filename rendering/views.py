from __future__ import annotations

import json
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from heygem_site.files import aiter_sync, content_disposition, serve_private
from projects import access as project_access
from projects import sharing
from projects.models import Activity
from projects.uploads import ingest
from rendering import access, services
from rendering.engine import model_installed
from rendering.forms import BatchForm, HistoryFilter
from rendering.quotas import QuotaExceeded
from rendering.templatetags.render_labels import batch_summary
from rendering.zipstream import safe_name, unique_names, zip_stream


@login_required
@require_http_methods(["GET", "POST"])
def batch_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_access.get_project(request, pk, need=access.EDIT)
    initial = BatchForm.initial_from(None)
    initial["name"] = _("Batch %(date)s") % {"date": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
    if "audio" in request.GET:  # one recording (the select compares a single value)
        initial["audio"] = request.GET["audio"]
    for key in ("more_audios", "videos", "templates"):
        if key in request.GET:
            initial[key] = request.GET.getlist(key)
    form = BatchForm(request.POST or None, request.FILES or None, project=project, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        audio = form.cleaned_data["audio"]
        upload = form.cleaned_data.get("audio_file")
        if upload:
            outcome = ingest(project, upload)
            if outcome.error:
                form.add_error("audio_file", outcome.error)
            elif outcome.asset.kind != "audio":
                form.add_error("audio_file", _("%(name)s is not an audio file.") % {"name": outcome.name})
            else:
                audio = outcome.asset
                if not outcome.duplicate:
                    sharing.record(project, request.user, Activity.Verb.UPLOADED, outcome.asset.original_name)
        if form.is_valid():
            # Items in the order the user ticked them in the form.
            videos = _in_posted_order(form.cleaned_data["videos"], request.POST.getlist("videos"))
            templates = _in_posted_order(form.cleaned_data["templates"], request.POST.getlist("templates"))
            presenters = [services.Item(video) for video in videos] + [services.Item(t.avatar, t) for t in templates]
            extra = _in_posted_order(form.cleaned_data["more_audios"], request.POST.getlist("more_audios"))
            audios = [audio, *(a for a in extra if a != audio)]
            items = services.pairings(audios, presenters)
            try:
                batch = services.create_batch(
                    request.user, project, form.cleaned_data["name"], audio, items, form.settings_dict()
                )
            except QuotaExceeded as error:
                form.add_error(None, error.message)
            else:
                return redirect(batch)
    context = {
        "project": project,
        "form": form,
        "model_installed": model_installed(),
    }
    return render(request, "rendering/batch_form.html", context)


@login_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = access.get_batch(request, pk)
    renders = list(batch.renders.select_related("source", "template", "audio"))
    counts = batch.counts()
    context = {
        "batch": batch,
        "project": batch.project,
        "renders": renders,
        "counts": counts,
        "finished": counts["finished"],
        "summary": batch_summary(counts),
        "several_audios": len({r.audio_id for r in renders if r.audio_id}),
        "downloadable": any(r.has_output for r in renders),
        "model_installed": model_installed(),
        "can_edit": project_access.may_edit(request.user, batch.project),
    }
    return render(request, "rendering/batch.html", context)


@login_required
def batch_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Every item's latest state, in the live events' shape: what the batch
    page applies on each (re)connect of its socket, since events sent while
    it was away (Redis restarting, a network hiccup) are not replayed."""
    batch = access.get_batch(request, pk)
    return JsonResponse({"renders": [item.event() for item in batch.renders.order_by("position")]})


@login_required
@require_POST
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = access.get_batch(request, pk, need=access.EDIT)
    count = services.cancel_batch(batch, request.user)
    messages.info(request, _("%(count)d item(s) cancelled.") % {"count": count})
    return redirect(batch)


@login_required
@require_POST
def render_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.get_render(request, pk, need=access.EDIT)
    if not services.cancel_item(item, request.user):
        messages.info(request, _("That item had already finished."))
    return redirect(item.batch)


@login_required
@require_POST
def render_retry(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.get_render(request, pk, need=access.EDIT)
    try:
        if not services.retry_render(item, request.user):
            messages.info(request, _("Only failed or cancelled items can be retried."))
    except QuotaExceeded as error:
        messages.error(request, error.message)
    return redirect(item.batch)


@login_required
@require_POST
def render_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.get_render(request, pk, need=access.EDIT)
    if item.is_active:  # the page shows no "Render again" while it runs; a stale page may still post
        messages.info(request, _("This item is still rendering."))
        return redirect(item)
    try:
        batch = services.rerun(item, request.user)
    except QuotaExceeded as error:
        messages.error(request, error.message)
        return redirect(item)
    messages.success(request, _("Started again as a new batch."))
    return redirect(batch)


@login_required
def render_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One item of the batch page, for the live page to swap in."""
    item = access.get_render(request, pk)
    can_edit = project_access.may_edit(request.user, item.batch.project)
    return render(request, "rendering/_render_row.html", {"r": item, "can_edit": can_edit})


@login_required
def render_file(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.get_render(request, pk)
    if not item.has_output:
        raise Http404
    return serve_private(request, item.output, item.download_name, attachment=request.GET.get("download") == "1")


@login_required
def batch_zip(request: HttpRequest, pk: int) -> HttpResponse:
    """All outputs that succeeded so far, as one zip (streamed)."""
    batch = access.get_batch(request, pk)
    done = [r for r in batch.renders.select_related("source", "template", "audio") if r.has_output]
    if not done:
        messages.info(request, _("No finished videos to download yet."))
        return redirect(batch)
    # Several recordings: one folder per recording, the presenters inside it.
    names = unique_names(
        f"{safe_name(r.speech.original_name.rsplit('.', 1)[0])}/{safe_name(r.presenter_stem)}.mp4"
        if r.audio_id else f"{safe_name(r.file_stem)}.mp4"
        for r in done
    )
    archive = zip_stream([(name, r.output) for name, r in zip(names, done)])
    response = StreamingHttpResponse(aiter_sync(iter(archive)), content_type="application/zip")
    response["Content-Length"] = str(len(archive))
    response["Content-Disposition"] = content_disposition(f"{safe_name(batch.name)}.zip", attachment=True)
    return response


@login_required
def render_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = access.get_render(request, pk)
    context = {
        "render": item,
        "batch": item.batch,
        "project": item.batch.project,
        "can_edit": project_access.may_edit(request.user, item.batch.project),
        # For experts, behind a <details>: the labels above are translated, this is as stored.
        "manifest_json": json.dumps(item.manifest, indent=2, ensure_ascii=False, sort_keys=True),
    }
    return render(request, "rendering/render.html", context)


@login_required
def history(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    project = project_access.get_project(request, pk) if pk is not None else None
    renders = access.renders_for(request.user).select_related(
        "batch", "batch__project", "batch__audio", "audio", "source", "template"
    )
    if project is not None:
        renders = renders.filter(batch__project=project)
    form = HistoryFilter(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            renders = renders.filter(status=data["status"])
        if data["since"]:
            renders = renders.filter(created_at__gte=_day_start(data["since"]))
        if data["until"]:
            renders = renders.filter(created_at__lt=_day_start(data["until"]) + timezone.timedelta(days=1))
        if data["q"]:
            renders = renders.filter(Q(batch__name__icontains=data["q"]) | Q(source__original_name__icontains=data["q"])
                                     | Q(audio__original_name__icontains=data["q"]))
    page = Paginator(renders.order_by("-created_at", "-pk"), 50).get_page(request.GET.get("page"))
    editable = project_access.projects_for(request.user, need=project_access.EDIT)
    editable_ids = set(editable.filter(pk__in={r.batch.project_id for r in page.object_list}).values_list("pk", flat=True))
    for r in page.object_list:
        r.can_edit = r.batch.project_id in editable_ids
    query = request.GET.copy()
    query.pop("page", None)
    context = {"page": page, "form": form, "project": project, "query": query.urlencode()}
    return render(request, "rendering/history.html", context)


def _in_posted_order(objects, posted_ids: list[str]) -> list:
    order = {value: index for index, value in enumerate(posted_ids)}
    return sorted(objects, key=lambda obj: order.get(str(obj.pk), len(order)))


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
