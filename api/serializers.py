"""What the API answers and accepts. Objects are referred to by id; every id
a request names is looked up through projects/access.py (404 for others')."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.models import WebhookDelivery, WebhookEndpoint
from projects.forms import RenderSettingsForm
from projects.models import Asset, Project, Template
from rendering.models import Render, RenderBatch


class ProjectSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField(help_text="The owner's username.")
    role = serializers.SerializerMethodField(
        help_text="Your role in the project: owner (also for staff), editor or viewer (also for team library "
                  "projects you are not a member of)."
    )

    class Meta:
        model = Project
        fields = ["id", "name", "description", "owner", "role", "is_library", "archived", "created_at",
                  "last_activity_at"]
        read_only_fields = ["id", "is_library", "archived", "created_at", "last_activity_at"]

    def get_owner(self, project: Project) -> str:
        return project.owner.get_username()

    def get_role(self, project: Project) -> str:
        # Annotated by the views (projects.access.with_role / role_in).
        return getattr(project, "my_role", None) or ""


class PreflightFindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    params = serializers.DictField(required=False)


class AssetSerializer(serializers.ModelSerializer):
    fps = serializers.SerializerMethodField()
    preflight = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id", "project", "kind", "original_name", "sha256", "size", "container", "duration", "fps",
            "frame_count", "width", "height", "rotation", "video_codec", "audio_codec", "sample_rate", "channels",
            "variable_frame_rate", "preflight", "created_at",
        ]

    def get_fps(self, asset: Asset) -> float | None:
        return float(asset.fps) if asset.fps else None

    def get_preflight(self, asset: Asset) -> list[dict]:
        """The upload's preflight findings, each with its sentence (as on the asset page)."""
        if not asset.preflight:
            return []
        from projects.preflight import describe  # OpenCV: only where findings are shown

        image = asset.kind == Asset.Kind.IMAGE
        return [{**finding, "message": str(describe(finding, image=image))} for finding in asset.preflight]


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Template
        fields = ["id", "project", "name", "avatar", "settings", "created_at", "updated_at"]


class RenderSettingsSerializer(serializers.Serializer):
    """The batch's render settings; any left out take their defaults."""

    pad_top = serializers.IntegerField(min_value=0, max_value=400, required=False)
    pad_bottom = serializers.IntegerField(min_value=0, max_value=400, required=False)
    pad_left = serializers.IntegerField(min_value=0, max_value=400, required=False)
    pad_right = serializers.IntegerField(min_value=0, max_value=400, required=False)
    blend = serializers.ChoiceField(choices=["feather", "none"], required=False)
    loop = serializers.ChoiceField(choices=["pingpong", "forward"], required=False)
    quality = serializers.ChoiceField(choices=["standard", "high", "lossless"], required=False)

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                _("Unknown settings: %(names)s.") % {"names": ", ".join(unknown)}, code="unknown_setting"
            )
        return RenderSettingsForm.initial_from(super().to_internal_value(data))


class WebhookRequestSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.values), allow_empty=False, required=False
    )


class BatchCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    audio = serializers.IntegerField(help_text="Id of an audio asset of the project.")
    presenters = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                       help_text="Ids of video or image assets of the project.")
    templates = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                      help_text="Ids of templates of the project (each uses its own settings).")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    settings = RenderSettingsSerializer(required=False)
    webhook = WebhookRequestSerializer(required=False, help_text="Also post this batch's events here.")

    def validate(self, data):
        if not data["presenters"] and not data["templates"]:
            raise serializers.ValidationError(
                {"presenters": [_("Choose at least one presenter video, image or template.")]}
            )
        return data


class RenderSerializer(serializers.ModelSerializer):
    presenter = serializers.IntegerField(source="source_id")
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Render
        fields = [
            "id", "batch", "position", "presenter", "template", "status", "stage", "progress", "frames_done",
            "frames_total", "fps", "eta_s", "error_code", "error", "output_size", "duration", "download_url",
            "created_at", "started_at", "finished_at",
        ]

    def get_progress(self, render: Render) -> float:
        return round(render.progress, 4)

    def get_error(self, render: Render) -> str:
        return str(render.error_display)

    def get_download_url(self, render: Render) -> str | None:
        if not render.has_output:
            return None
        path = reverse("api:render-download", args=[render.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class RenderDetailSerializer(RenderSerializer):
    class Meta(RenderSerializer.Meta):
        fields = [*RenderSerializer.Meta.fields, "settings", "timings", "manifest"]


class BatchSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    counts = serializers.SerializerMethodField()
    started_by = serializers.SerializerMethodField(
        help_text="Username of the member who started the batch (their quotas and queue apply)."
    )

    class Meta:
        model = RenderBatch
        fields = ["id", "project", "name", "audio", "settings", "status", "counts", "started_by", "created_at"]

    def get_started_by(self, batch: RenderBatch) -> str:
        return batch.owner.get_username()

    def get_counts(self, batch: RenderBatch) -> dict[str, int]:
        return batch.counts()


class BatchDetailSerializer(BatchSerializer):
    items = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "items"]

    def get_items(self, batch: RenderBatch) -> list[dict]:
        renders = batch.renders.select_related("source", "template", "batch").order_by("position")
        return RenderSerializer(renders, many=True, context=self.context).data


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEndpoint.Event.values),
                                   allow_empty=False, required=False)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "batch", "active", "created_at"]
        read_only_fields = ["id", "batch", "active", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event", "status", "attempts", "response_code", "error", "duration_ms",
                  "next_attempt_at", "created_at", "last_attempt_at"]
