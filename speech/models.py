from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from projects.models import Asset, Project, Template


class ScriptBatch(models.Model):
    """Scripts (typed, or rows of a CSV) against one template: each script is
    spoken, then one render batch pairs every speech with the template."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Speaking")
        SUCCEEDED = "succeeded", _("Rendering started")
        FAILED = "failed", _("Failed")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="script_batches")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(Template, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    batch = models.ForeignKey("rendering.RenderBatch", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("speech:script_batch", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class Speech(models.Model):
    """Speech made from a script: the request, its progress, and the audio
    asset it became ("generated from script": the script and voice stay here)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Speaking")
        SUCCEEDED = "succeeded", _("Ready")
        FAILED = "failed", _("Failed")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="speeches")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("script"))
    language = models.CharField(_("language"), max_length=40)
    voice = models.CharField(_("voice"), max_length=100)
    speed = models.FloatField(_("speed"), default=1.0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    #: Findings for the member: {"unsupported": [...], "mismatch": "han"|None}.
    findings = models.JSONField(default=dict, blank=True)
    asset = models.ForeignKey(Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="speeches")
    script_batch = models.ForeignKey(ScriptBatch, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="speeches")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("speech from script")
        verbose_name_plural = _("speech from scripts")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("speech:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    def state(self) -> dict:
        """What the page polls."""
        return {
            "status": self.status, "status_display": str(self.get_status_display()), "done": self.done,
            "total": self.total, "error": self.error, "asset": self.asset_id,
            "audio_url": reverse("projects:asset_file", args=[self.asset_id]) if self.asset_id else None,
        }
