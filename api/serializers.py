"""What the API answers and accepts. Objects are referred to by id; every id
a request names is looked up through projects/access.py (404 for others')."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import WebhookDelivery, WebhookEndpoint
from projects.forms import RenderSettingsForm
from projects.models import Asset, Project, Template
from rendering.models import Render, RenderBatch
from speech.models import ScriptBatch, Speech


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
    audio = serializers.IntegerField(required=False, help_text="Id of an audio asset of the project.")
    audios = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list,
        help_text="Ids of several audio assets of the project (recordings, speech from scripts): every one is "
                  "spoken by every presenter and template, grouped by recording. With `audio` too, `audio` "
                  "comes first; a repeated id counts once.")
    presenters = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                       help_text="Ids of video or image assets of the project.")
    templates = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                      help_text="Ids of templates of the project (each uses its own settings).")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    settings = RenderSettingsSerializer(required=False)
    webhook = WebhookRequestSerializer(required=False, help_text="Also post this batch's events here.")

    def validate(self, data):
        if data.get("audio") is None and not data["audios"]:
            raise serializers.ValidationError({"audio": [_("Choose the voice recording (audio or audios).")]})
        if not data["presenters"] and not data["templates"]:
            raise serializers.ValidationError(
                {"presenters": [_("Choose at least one presenter video, image or template.")]}
            )
        # The recordings in the order sent, each once (the web's batch form does the same).
        named = ([data["audio"]] if data.get("audio") is not None else []) + data["audios"]
        data["audio_ids"] = list(dict.fromkeys(named))
        return data


class RenderSerializer(serializers.ModelSerializer):
    presenter = serializers.IntegerField(source="source_id")
    audio = serializers.SerializerMethodField(help_text="Id of the audio asset this item speaks.")
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Render
        fields = [
            "id", "batch", "position", "presenter", "template", "audio", "status", "stage", "progress", "frames_done",
            "frames_total", "fps", "eta_s", "error_code", "error", "output_size", "duration", "download_url",
            "created_at", "started_at", "finished_at",
        ]

    def get_progress(self, render: Render) -> float:
        return round(render.progress, 4)

    def get_audio(self, render: Render) -> int:
        return render.audio_id or render.batch.audio_id

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
    audios = serializers.SerializerMethodField(
        help_text="Ids of every recording the batch speaks, in item order (`audio` is the first).")
    items = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "audios", "items"]

    def _renders(self, batch: RenderBatch) -> list[Render]:
        if not hasattr(batch, "_api_renders"):
            batch._api_renders = list(batch.renders.select_related("source", "template", "batch").order_by("position"))
        return batch._api_renders

    def get_audios(self, batch: RenderBatch) -> list[int]:
        return list(dict.fromkeys(r.audio_id or batch.audio_id for r in self._renders(batch))) or [batch.audio_id]

    def get_items(self, batch: RenderBatch) -> list[dict]:
        return RenderSerializer(self._renders(batch), many=True, context=self.context).data


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


# --- speech from scripts -------------------------------------------------------------


class VoiceSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What `voice` takes, e.g. `espeak:en-us` or an installed voice's name.")
    language = serializers.CharField()
    label = serializers.CharField()
    engine = serializers.CharField(help_text="`neural` (installed by the admin) or `espeak` (built in).")
    kind = serializers.SerializerMethodField(
        help_text="`installed` (a natural voice the admin installed) or `built-in` (eSpeak NG: clear but "
                  "synthetic-sounding).")
    sample_text = serializers.CharField()
    sample_url = serializers.SerializerMethodField(
        help_text="A short WAV of the voice (what the web's Listen plays; send the same `Authorization` header; "
                  "byte ranges work). Null for an installed voice that has no sample (reinstall it).")

    def get_kind(self, voice) -> str:
        return "installed" if voice.engine == "neural" else "built-in"

    def get_sample_url(self, voice) -> str | None:
        from django.conf import settings

        from ml.speech.samples import installed_sample

        if voice.engine == "neural" and not installed_sample(settings.HEYGEM_MODEL_DIR, voice.name).is_file():
            return None
        path = reverse("speech:voice_sample", args=[voice.name])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class SpeechCreateSerializer(serializers.Serializer):
    """Checked again by the web's form (speech/forms.py SpeechForm): the same
    limits and messages."""

    title = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                  help_text="The audio file's name; the script's first words when left out.")
    text = serializers.CharField(help_text="The script (the limit is in the error when it is longer).")
    voice = serializers.CharField(required=False, help_text="A voice's `name` from `GET /api/v1/voices/`.")
    language = serializers.CharField(required=False, max_length=40,
                                     help_text="Or a language code (`en`, `zh`, `de`, `en-gb`, …): its voice.")
    speed = serializers.FloatField(required=False, default=1.0)

    def validate(self, data):
        from speech.voices import voice_for_language

        if not data.get("voice"):
            if not data.get("language"):
                raise serializers.ValidationError({"voice": [_("Choose a voice, or a language.")]})
            data["voice"] = voice_for_language(data["language"])
            if data["voice"] is None:
                raise serializers.ValidationError({"language": [
                    _("No voice speaks %(language)s here. GET /api/v1/voices/ lists the voices.")
                    % {"language": data["language"]}]})
        return data


class SpeechFindingSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["language_mismatch", "unsupported_characters"])
    message = serializers.CharField()


class SpeechSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField(help_text="0-1: the script's sentences spoken so far.")
    unsupported_characters = serializers.SerializerMethodField(
        help_text="Characters the voice cannot speak, left out (not silently dropped).")
    language_mismatch = serializers.SerializerMethodField(
        help_text="The writing system found when the script does not fit the voice's language (e.g. `han`).")
    warnings = serializers.SerializerMethodField()
    audio_url = serializers.SerializerMethodField(help_text="The speech's audio asset, once ready.")

    class Meta:
        model = Speech
        fields = ["id", "project", "title", "text", "language", "voice", "speed", "status", "progress", "done",
                  "total", "error", "asset", "audio_url", "unsupported_characters", "language_mismatch", "warnings",
                  "script_batch", "created_at"]
        read_only_fields = fields

    def get_progress(self, speech: Speech) -> float:
        if speech.status == Speech.Status.SUCCEEDED:
            return 1.0
        return round(speech.done / speech.total, 4) if speech.total else 0.0

    def get_unsupported_characters(self, speech: Speech) -> list[str]:
        return list(speech.findings.get("unsupported") or [])

    def get_language_mismatch(self, speech: Speech) -> str | None:
        return speech.findings.get("mismatch") or None

    @extend_schema_field(SpeechFindingSerializer(many=True))
    def get_warnings(self, speech: Speech) -> list[dict]:
        """The speech page's warnings, each with a stable code."""
        from speech.services import mismatch_warning, unsupported_warning

        pairs = [("language_mismatch", mismatch_warning(speech.findings)),
                 ("unsupported_characters", unsupported_warning(speech.findings))]
        return [{"code": code, "message": str(message)} for code, message in pairs if message]

    def get_audio_url(self, speech: Speech) -> str | None:
        if not speech.asset_id:
            return None
        path = reverse("api:asset-detail", args=[speech.asset_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ScriptRowSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                  help_text="The video's name; the script's first words when left out.")
    script = serializers.CharField()


class ScriptBatchCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    template = serializers.IntegerField(help_text="Id of a template of the project.")
    voice = serializers.CharField(required=False, allow_blank=True,
                                  help_text="A voice's `name`; the template's voice when left out.")
    scripts = ScriptRowSerializer(many=True, allow_empty=False, help_text="One video per script.")


class ScriptBatchSerializer(serializers.ModelSerializer):
    speeches = serializers.SerializerMethodField()

    class Meta:
        model = ScriptBatch
        fields = ["id", "project", "name", "template", "status", "error", "batch", "speeches", "created_at"]
        read_only_fields = fields

    @extend_schema_field(SpeechSerializer(many=True))
    def get_speeches(self, plan: ScriptBatch) -> list[dict]:
        speeches = plan.speeches.order_by("position")
        return SpeechSerializer(speeches, many=True, context=self.context).data
