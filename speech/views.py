from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from api.web import login_or_token_required
from heygem_site.files import serve_local
from projects import access
from rendering import quotas
from rendering.quotas import QuotaExceeded
from speech import services
from speech.forms import ScriptBatchForm, SpeechForm
from speech.models import ScriptBatch, Speech
from speech.voices import available_voices, language_of


def _get_speech(request: HttpRequest, pk: int) -> Speech:
    """Visible to the project's owner and members (projects/access.py decides);
    not to everyone who may read a team library project."""
    return get_object_or_404(access.in_visible_projects(Speech.objects.select_related("project", "asset"),
                                                        request.user, library=False), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def speech_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.EDIT)
    form = SpeechForm(request.POST or None, initial={"voice": "espeak:en-us"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            speech = services.start_speech(request.user, project, title=data["title"], text=data["text"],
                                           language=form.language(), voice=data["voice"], speed=data["speed"])
        except QuotaExceeded as error:
            form.add_error(None, error.message)
        else:
            return redirect(speech)
    return render(request, "speech/form.html", {"form": form, "project": project})


@login_required
def speech_detail(request: HttpRequest, pk: int) -> HttpResponse:
    speech = _get_speech(request, pk)
    context = {
        "speech": speech,
        "project": speech.project,
        "audio_deleted": speech.status == Speech.Status.SUCCEEDED and speech.asset_id is None,
        "warnings": [w for w in (services.mismatch_warning(speech.findings),
                                 services.unsupported_warning(speech.findings)) if w],
    }
    return render(request, "speech/detail.html", context)


@login_required
def speech_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_get_speech(request, pk).state())


@login_required
@require_http_methods(["GET", "POST"])
def script_batch_create(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request, pk, need=access.EDIT)
    initial = {"template": request.GET.get("template")}
    form = ScriptBatchForm(request.POST or None, request.FILES or None, project=project, user=request.user,
                           initial=initial)
    checked = None
    if request.method == "POST" and form.is_valid() and request.POST.get("check"):
        # "Check": how many videos, and whether the quotas allow them; nothing starts.
        count = len(form.cleaned_data["rows"])
        rows = form.checked_json()
        checked = {"count": count, "kept": bool(rows)}
        if rows:
            # The CSV's rows stay on the page: "Speak and render" next needs no second upload.
            form = ScriptBatchForm(_checked_data(request.POST, rows), project=project, user=request.user)
            form.is_valid()
        elif form.cleaned_data.get("scripts_csv"):
            form.add_error("scripts_csv", _("This CSV is too large to keep on the page: choose it again to start."))
        try:
            quotas.check_new_renders(request.user, count)
        except QuotaExceeded as error:
            form.add_error(None, error.message)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = services.start_script_batch(
                request.user, project, name=data["name"], template=data["template"], scripts=data["rows"],
                voice=data["voice_name"], language=language_of(data["voice_name"]) or "", speed=data["speed"])
        except QuotaExceeded as error:
            form.add_error(None, error.message)
        else:
            return redirect(plan)
    return render(request, "speech/script_batch_form.html", {
        "form": form, "project": project, "checked": checked, "limits": _render_limits(request.user)})


def _checked_data(post, rows_json: str):
    data = post.copy()
    data["checked_rows"] = rows_json
    data.pop("check", None)
    return data


def _render_limits(user) -> dict:
    """For the page's count: at most this many videos in one batch, and this
    many more may start now (HEYGEM_MAX_ACTIVE_ITEMS less what is queued)."""
    return {"batch": settings.HEYGEM_MAX_BATCH_ITEMS,
            "room": max(0, settings.HEYGEM_MAX_ACTIVE_ITEMS - quotas.active_items(user))}


@login_required
def script_batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(access.in_visible_projects(ScriptBatch.objects.select_related("project", "batch"),
                                                        request.user, library=False), pk=pk)
    if plan.batch_id and request.GET.get("follow") == "1":
        return redirect(plan.batch)
    speeches = plan.speeches.select_related("asset").order_by("position")
    return render(request, "speech/script_batch.html", {"plan": plan, "project": plan.project, "speeches": speeches})


@login_or_token_required
@require_http_methods(["GET", "HEAD"])
def voice_sample(request: HttpRequest, name: str) -> HttpResponse:
    """A short sentence in the voice's language, for the picker's "Listen"
    (and the API's `sample_url`, hence the token too). Voices are not project
    data: any signed-in member may hear any voice."""
    from ml.speech import SpeechError
    from ml.speech.samples import bundled_sample, installed_sample

    def missing(message: str) -> HttpResponse:
        return HttpResponseNotFound(message, content_type="text/plain; charset=utf-8")

    voice = next((v for v in available_voices() if v.name == name), None)
    if voice is None:
        return missing(_("There is no voice called “%(name)s”.") % {"name": name})
    if voice.engine == "neural":
        path = installed_sample(settings.HEYGEM_MODEL_DIR, voice.name)
        if not path.is_file():
            return missing(_("The voice “%(name)s” has no sample: ask your administrator to install it again "
                             "(manage.py install_models --voice).") % {"name": voice.label})
    else:
        try:
            path = bundled_sample(settings.HEYGEM_CACHE_DIR, voice)
        except SpeechError:
            return missing(_("The voice “%(name)s” could not speak its sample.") % {"name": voice.label})
    return serve_local(request, path, f"{voice.name.replace(':', '-')}-sample.wav", "audio/wav")
