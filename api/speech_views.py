"""Speech from scripts through the API: the web's forms check the request
(speech/forms.py: the same limits and messages), the web's services start
the work (speech/services.py: the same quotas, the `default` queue), and
projects/access.py decides who may (editors speak, viewers read, outsiders
get 404)."""

from __future__ import annotations

from django import forms
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import idempotency
from api.errors import ApiError
from api.serializers import (
    ScriptBatchCreateSerializer,
    ScriptBatchSerializer,
    SpeechCreateSerializer,
    SpeechSerializer,
    VoiceSerializer,
)
from projects import access as project_access
from rendering.quotas import QuotaExceeded
from speech import services
from speech.models import ScriptBatch, Speech

IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)


def _checked(form: forms.Form) -> dict:
    """The form's cleaned data, or its errors as the API's validation error."""
    if not form.is_valid():
        errors = {("non_field_errors" if field == "__all__" else field): [e["message"] for e in messages]
                  for field, messages in form.errors.get_json_data().items()}
        raise serializers.ValidationError(errors)
    return form.cleaned_data


def _visible(qs, user):
    # As the speech pages: the project's owner and members, not every reader of a team library project.
    return project_access.in_visible_projects(qs, user, library=False)


class VoiceList(APIView):
    """Every voice a script can be spoken with: the natural voices the admin
    installed first, then the built-in ones (eSpeak NG)."""

    @extend_schema(responses=VoiceSerializer(many=True))
    def get(self, request: Request) -> Response:
        from speech.voices import available_voices

        return Response(VoiceSerializer(available_voices(), many=True, context={"request": request}).data)


class SpeechList(generics.ListAPIView):
    """GET: the project's speech from scripts, newest first. POST: speak a
    script (JSON); 202 with the speech, made on the queue: poll
    `GET /api/v1/speech/{id}/` until `status` is `succeeded` (then `asset` is
    the audio asset to put in a batch) or `failed`."""

    serializer_class = SpeechSerializer

    def get_queryset(self):
        project = project_access.get_project(self.request, self.kwargs["pk"])
        return _visible(Speech.objects.filter(project=project), self.request.user).order_by("-created_at", "-pk")

    @extend_schema(request=SpeechCreateSerializer, responses={202: SpeechSerializer}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, pk: int) -> Response:
        return idempotency.once(request, lambda: self._create(request, pk))

    def _create(self, request: Request, pk: int) -> Response:
        from speech.forms import SpeechForm

        project = project_access.get_project(request, pk, need=project_access.EDIT)
        given = SpeechCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        form = SpeechForm({key: given.validated_data.get(key, "") for key in ("title", "text", "voice", "speed")})
        data = _checked(form)
        try:
            speech = services.start_speech(request.user, project, title=data["title"], text=data["text"],
                                           language=form.language(), voice=data["voice"], speed=data["speed"])
        except QuotaExceeded as error:
            raise ApiError(403, "quota_exceeded", error.message) from None
        body = SpeechSerializer(speech, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": request.build_absolute_uri(f"/api/v1/speech/{speech.pk}/")})


class SpeechDetail(generics.RetrieveAPIView):
    """Status and progress; once `succeeded`, `asset` is the audio asset
    (generated from this script); the warnings as on the speech page."""

    serializer_class = SpeechSerializer

    def get_object(self):
        return get_object_or_404(_visible(Speech.objects.all(), self.request.user), pk=self.kwargs["pk"])


class ScriptBatchList(APIView):
    """POST: scripts × one template of the project: every script is spoken
    (one job), then one batch renders each with the template; 202 with the
    script batch: `batch` is the render batch once it started."""

    @extend_schema(request=ScriptBatchCreateSerializer, responses={202: ScriptBatchSerializer},
                   parameters=[IDEMPOTENCY])
    def post(self, request: Request, pk: int) -> Response:
        return idempotency.once(request, lambda: self._create(request, pk))

    def _create(self, request: Request, pk: int) -> Response:
        from speech.forms import ScriptBatchForm
        from speech.voices import language_of

        project = project_access.get_project(request, pk, need=project_access.EDIT)
        given = ScriptBatchCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        sent = given.validated_data
        rows = [(row.get("title", ""), row["script"]) for row in sent["scripts"]]
        form = ScriptBatchForm({"name": sent["name"], "template": sent["template"], "voice": sent.get("voice", "")},
                               project=project, user=request.user, rows=rows)
        data = _checked(form)
        try:
            plan = services.start_script_batch(
                request.user, project, name=data["name"], template=data["template"], scripts=data["rows"],
                voice=data["voice_name"], language=language_of(data["voice_name"]) or "", speed=data["speed"])
        except QuotaExceeded as error:
            raise ApiError(403, "quota_exceeded", error.message) from None
        body = ScriptBatchSerializer(plan, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": request.build_absolute_uri(f"/api/v1/script-batches/{plan.pk}/")})


class ScriptBatchDetail(generics.RetrieveAPIView):
    """Speaking progress of each script; `batch` is the render batch once every script was spoken."""

    serializer_class = ScriptBatchSerializer

    def get_object(self):
        return get_object_or_404(_visible(ScriptBatch.objects.all(), self.request.user), pk=self.kwargs["pk"])
