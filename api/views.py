"""The /api/v1/ endpoints. Thin: access through projects/access.py and
rendering/access.py with the same role as the web view of each action
(404 for what is not yours, 403 `forbidden_role` where a viewer asks for an
editor's action or an editor for the owner's), activity written by the same
services as the web's (projects.sharing.record, rendering.services), uploads through
projects.uploads.ingest (the web's probing, limits and messages), batches
through rendering.services (quotas, fair share), files through
heygem_site.files (streamed with bounded memory)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import idempotency
from api.errors import ApiError
from api.models import WebhookDelivery, WebhookEndpoint
from api.serializers import (
    AssetSerializer,
    BatchCreateSerializer,
    BatchDetailSerializer,
    BatchSerializer,
    ProjectSerializer,
    RenderDetailSerializer,
    RenderSerializer,
    TemplateSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
)
from api.speech_views import ScriptBatchDetail, ScriptBatchList, SpeechDetail, SpeechList, VoiceList  # noqa: F401
from api.ssrf import UnsafeURL, check_url
from heygem_site.files import serve_private
from projects import access as project_access
from projects import sharing
from projects.forms import RenderSettingsForm
from projects.models import Activity, Asset, Template
from projects.uploads import ingest
from rendering import access, services
from rendering.models import ACTIVE, Status
from rendering.quotas import QuotaExceeded

TIME_FILTERS = [
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="ISO 8601 date or date-time"),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="ISO 8601 date or date-time"),
]


def _when(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None and (day := parse_date(raw)) is not None:
        value = datetime.combine(day, datetime.min.time())
    if value is None:
        raise ApiError(400, "bad_filter", _("%(name)s must be an ISO 8601 date or date-time.") % {"name": name})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _time_filtered(request: Request, qs):
    if after := _when(request, "created_after"):
        qs = qs.filter(created_at__gte=after)
    if before := _when(request, "created_before"):
        qs = qs.filter(created_at__lt=before)
    return qs


# --- projects -----------------------------------------------------------------


@extend_schema(parameters=[OpenApiParameter("archived", OpenApiTypes.BOOL), *TIME_FILTERS])
class ProjectList(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        user = self.request.user
        qs = project_access.with_role(project_access.projects_for(user), user).select_related("owner")
        qs = qs.order_by("-last_activity_at", "-pk")
        archived = self.request.query_params.get("archived")
        if archived in ("true", "false"):
            qs = qs.filter(archived=archived == "true")
        return _time_filtered(self.request, qs)

    def perform_create(self, serializer):
        project = serializer.save(owner=self.request.user)
        project.my_role = project_access.MANAGE


class ProjectDetail(generics.RetrieveAPIView):
    serializer_class = ProjectSerializer

    def get_object(self):
        project = project_access.get_project(self.request, self.kwargs["pk"])
        project.my_role = project_access.role_in(self.request.user, project)
        return project


class ProjectArchive(APIView):
    archived = True

    @extend_schema(request=None, responses=ProjectSerializer)
    def post(self, request: Request, pk: int) -> Response:
        project = project_access.get_project(request, pk, need=project_access.MANAGE)
        sharing.set_archived(project, self.archived, request.user)
        project.my_role = project_access.role_in(request.user, project)
        return Response(ProjectSerializer(project).data)


class ProjectRestore(ProjectArchive):
    archived = False


# --- assets and templates ---------------------------------------------------------


@extend_schema(parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=Asset.Kind.values)])
class AssetList(generics.ListAPIView):
    """GET: the project's uploads. POST (multipart, field `file`): upload one file,
    probed and checked as on the web; 201 with its facts, 200 if the project
    already had the same file, 400 with the refusal message otherwise."""

    serializer_class = AssetSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        project = project_access.get_project(self.request, self.kwargs["pk"])
        qs = project.assets.order_by("-created_at", "-pk")
        if kind := self.request.query_params.get("kind"):
            qs = qs.filter(kind=kind)
        return qs

    @extend_schema(
        request={"multipart/form-data": inline_serializer("AssetUpload", {"file": serializers.FileField()})},
        responses={201: AssetSerializer, 200: AssetSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        project = project_access.get_project(request, pk, need=project_access.EDIT)
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError(400, "no_file", _("Send the file as the multipart field “file”."))
        outcome = ingest(project, upload)
        if outcome.error:
            raise ApiError(400, "upload_refused", outcome.error)
        if not outcome.duplicate:
            sharing.record(project, request.user, Activity.Verb.UPLOADED, outcome.asset.original_name)
        data = AssetSerializer(outcome.asset).data
        return Response({**data, "duplicate": outcome.duplicate},
                        status=status.HTTP_200_OK if outcome.duplicate else status.HTTP_201_CREATED)


class AssetDetail(generics.RetrieveAPIView):
    """An upload's probed facts and preflight findings."""

    serializer_class = AssetSerializer

    def get_object(self):
        return project_access.get_asset(self.request, self.kwargs["pk"])


class TemplateList(generics.ListAPIView):
    serializer_class = TemplateSerializer

    def get_queryset(self):
        return project_access.get_project(self.request, self.kwargs["pk"]).templates.order_by("name", "pk")


class TemplateDetail(generics.RetrieveAPIView):
    serializer_class = TemplateSerializer

    def get_object(self):
        return project_access.get_template(self.request, self.kwargs["pk"])


# --- batches -------------------------------------------------------------------------


@extend_schema(parameters=[OpenApiParameter("project", OpenApiTypes.INT), *TIME_FILTERS])
class BatchList(generics.ListAPIView):
    """GET: your batches, newest first. POST: start a batch (one job per
    presenter or template, for each recording in `audio`/`audios`). Send an
    `Idempotency-Key` header: the same key again answers the first batch
    instead of queueing another."""

    serializer_class = BatchSerializer

    def get_queryset(self):
        qs = access.batches_for(self.request.user).with_counts().select_related("owner")
        qs = qs.order_by("-created_at", "-pk")
        if project := self.request.query_params.get("project"):
            qs = qs.filter(project_id=project) if project.isdigit() else qs.none()
        return _time_filtered(self.request, qs)

    @extend_schema(
        request=BatchCreateSerializer,
        responses={201: BatchDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        return idempotency.once(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        form = BatchCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        project = project_access.get_project(request, data["project"], need=project_access.EDIT)
        recordings = {a.pk: a for a in project.assets.filter(pk__in=data["audio_ids"], kind=Asset.Kind.AUDIO)}
        missing = [pk for pk in data["audio_ids"] if pk not in recordings]
        if missing:
            if data.get("audio") in missing:
                raise serializers.ValidationError({"audio": [_("No audio with this id in the project.")]})
            raise serializers.ValidationError({"audios": [
                _("No audio with id %(ids)s in the project.") % {"ids": ", ".join(map(str, missing))}
            ]})
        audios = [recordings[pk] for pk in data["audio_ids"]]
        visuals = {a.pk: a for a in project.assets.filter(pk__in=data["presenters"],
                                                           kind__in=[Asset.Kind.VIDEO, Asset.Kind.IMAGE])}
        missing = [pk for pk in data["presenters"] if pk not in visuals]
        if missing:
            raise serializers.ValidationError({"presenters": [
                _("No presenter video or image with id %(ids)s in the project.") % {"ids": ", ".join(map(str, missing))}
            ]})
        # The project's own templates and the team library's, as on the web's
        # batch form (rendering/forms.py): a library template is used where it is.
        usable = Q(project=project) | Q(pk__in=project_access.library_templates_for(request.user).values("pk"))
        templates = {t.pk: t for t in Template.objects.filter(usable, pk__in=data["templates"]).select_related("avatar")}
        missing = [pk for pk in data["templates"] if pk not in templates]
        if missing:
            raise serializers.ValidationError({"templates": [
                _("No template with id %(ids)s in the project or the team library.")
                % {"ids": ", ".join(map(str, missing))}
            ]})
        webhook = data.get("webhook")
        if webhook:
            try:
                check_url(webhook["url"], allow_private=False)
            except UnsafeURL as error:
                raise serializers.ValidationError({"webhook": [error.message]}) from None
        presenters = [services.Item(visuals[pk]) for pk in data["presenters"]]
        presenters += [services.Item(templates[pk].avatar, templates[pk]) for pk in data["templates"]]
        items = services.pairings(audios, presenters)
        name = data.get("name") or _("Batch %(date)s") % {"date": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
        settings = data.get("settings") or RenderSettingsForm.initial_from(None)
        secret = None
        try:
            with transaction.atomic():
                batch = services.create_batch(request.user, project, name, audios[0], items, settings)
                if webhook:
                    endpoint = WebhookEndpoint.objects.create(
                        user=request.user, url=webhook["url"], batch=batch, secret=WebhookEndpoint.new_secret(),
                        events=webhook.get("events") or WebhookEndpoint.Event.values,
                    )
                    secret = endpoint.secret
        except QuotaExceeded as error:
            raise ApiError(403, "quota_exceeded", error.message) from None
        batch = access.batches_for(request.user).with_counts().select_related("owner").get(pk=batch.pk)
        body = BatchDetailSerializer(batch, context={"request": request}).data
        if secret:
            body["webhook_secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class BatchDetail(generics.RetrieveAPIView):
    """Status, counts per status, and every item with its progress."""

    serializer_class = BatchDetailSerializer

    def get_object(self):
        batches = access.batches_for(self.request.user).with_counts().select_related("owner")
        return get_object_or_404(batches, pk=self.kwargs["pk"])


class BatchCancel(APIView):
    @extend_schema(request=None, responses=BatchDetailSerializer)
    def post(self, request: Request, pk: int) -> Response:
        batch = access.get_batch(request, pk, need=access.EDIT)
        cancelled = services.cancel_batch(batch, request.user)
        batch = access.batches_for(request.user).with_counts().select_related("owner").get(pk=pk)
        return Response({**BatchDetailSerializer(batch, context={"request": request}).data, "cancelled": cancelled})


class BatchRetry(APIView):
    """Queue every failed or cancelled item of the batch again."""

    @extend_schema(request=None, responses=BatchDetailSerializer)
    def post(self, request: Request, pk: int) -> Response:
        batch = access.get_batch(request, pk, need=access.EDIT)
        retried = 0
        try:
            for render in batch.renders.select_related("batch", "batch__owner").filter(
                status__in=[Status.FAILED, Status.CANCELLED]
            ):
                retried += services.retry_render(render, request.user)
        except QuotaExceeded as error:
            raise ApiError(403, "quota_exceeded", error.message) from None
        batch = access.batches_for(request.user).with_counts().select_related("owner").get(pk=pk)
        return Response({**BatchDetailSerializer(batch, context={"request": request}).data, "retried": retried})


# --- renders -------------------------------------------------------------------------


@extend_schema(parameters=[
    OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
    OpenApiParameter("batch", OpenApiTypes.INT),
    *TIME_FILTERS,
])
class RenderList(generics.ListAPIView):
    serializer_class = RenderSerializer

    def get_queryset(self):
        qs = access.renders_for(self.request.user).select_related("batch", "source", "template")
        if (wanted := self.request.query_params.get("status")) is not None:
            if wanted not in Status.values:
                raise ApiError(400, "bad_filter", _("status must be one of %(values)s.")
                               % {"values": ", ".join(Status.values)})
            qs = qs.filter(status=wanted)
        if batch := self.request.query_params.get("batch"):
            qs = qs.filter(batch_id=batch) if batch.isdigit() else qs.none()
        return _time_filtered(self.request, qs).order_by("-created_at", "-pk")


class RenderDetail(generics.RetrieveAPIView):
    """Status and progress, settings, timings and the manifest (input hashes,
    model checksum) that makes the render reproducible."""

    serializer_class = RenderDetailSerializer

    def get_object(self):
        return access.get_render(self.request, self.kwargs["pk"])


class RenderManifest(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        return Response(access.get_render(request, pk).manifest)


class RenderLog(APIView):
    @extend_schema(responses=inline_serializer("RenderLog", {"log": serializers.CharField()}))
    def get(self, request: Request, pk: int) -> Response:
        return Response({"log": access.get_render(request, pk).log})


class RenderCancel(APIView):
    @extend_schema(request=None, responses=RenderSerializer)
    def post(self, request: Request, pk: int) -> Response:
        render = access.get_render(request, pk, need=access.EDIT)
        if not services.cancel_item(render, request.user):
            raise ApiError(409, "not_active", _("That item had already finished."))
        return Response(RenderSerializer(render, context={"request": request}).data)


class RenderRetry(APIView):
    @extend_schema(request=None, responses=RenderSerializer)
    def post(self, request: Request, pk: int) -> Response:
        render = access.get_render(request, pk, need=access.EDIT)
        try:
            if not services.retry_render(render, request.user):
                raise ApiError(409, "not_retryable", _("Only failed or cancelled items can be retried."))
        except QuotaExceeded as error:
            raise ApiError(403, "quota_exceeded", error.message) from None
        return Response(RenderSerializer(render, context={"request": request}).data)


class RenderDownload(APIView):
    """The MP4 (streamed, byte ranges supported), or 409 while there is none."""

    @extend_schema(responses={(200, "video/mp4"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        render = access.get_render(request, pk)
        if not render.has_output:
            if render.status in ACTIVE:
                raise ApiError(409, "not_finished", _("This item is still rendering."))
            raise ApiError(409, "no_output", _("This item has no video to download."))
        return serve_private(request._request, render.output, render.download_name, attachment=True)


# --- webhooks -------------------------------------------------------------------------


class WebhookList(generics.ListCreateAPIView):
    """Endpoints that receive your `render.succeeded`, `render.failed` and
    `batch.finished` events. The answer to POST carries the signing secret."""

    serializer_class = WebhookEndpointSerializer

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(user=self.request.user)

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            check_url(serializer.validated_data["url"], allow_private=False)
        except UnsafeURL as error:
            raise serializers.ValidationError({"url": [error.message]}) from None
        endpoint = serializer.save(
            user=request.user, secret=WebhookEndpoint.new_secret(),
            events=serializer.validated_data.get("events") or WebhookEndpoint.Event.values,
        )
        return Response({**serializer.data, "secret": endpoint.secret}, status=status.HTTP_201_CREATED)


class WebhookDetail(generics.RetrieveDestroyAPIView):
    serializer_class = WebhookEndpointSerializer

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(user=self.request.user)


class WebhookDeliveries(generics.ListAPIView):
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        endpoint = get_object_or_404(WebhookEndpoint.objects.filter(user=self.request.user), pk=self.kwargs["pk"])
        return endpoint.deliveries.all()


class WebhookResend(APIView):
    @extend_schema(request=None, responses=WebhookDeliverySerializer)
    def post(self, request: Request, pk: int) -> Response:
        from api.webhooks import resend

        delivery = get_object_or_404(WebhookDelivery.objects.filter(endpoint__user=request.user), pk=pk)
        return Response(WebhookDeliverySerializer(resend(delivery)).data, status=status.HTTP_202_ACCEPTED)
