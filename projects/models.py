from __future__ import annotations

import uuid
from fractions import Fraction

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from heygem_site.text import clean_name


class Project(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    archived = models.BooleanField(_("archived"), default=False)
    # Staff mark team library projects: every member may see them and pick
    # their templates in their own batches; only editors change them.
    is_library = models.BooleanField(_("team library"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by uploads, templates and renders: "last activity" in the list.
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_activity_at"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = clean_name(self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])

    def team(self):
        """Everyone with access through this project: the owner and its members (not staff)."""
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(models.Q(pk=self.owner_id) | models.Q(memberships__project=self)).distinct()

    def touch(self) -> None:
        Project.objects.filter(pk=self.pk).update(last_activity_at=timezone.now())


def _asset_key(instance: Asset, filename: str) -> str:
    # Storage keys are generated, never taken from the client: the original
    # name is only a display name (it may hold "../", spaces, any script).
    return f"uploads/{instance.project.owner_id}/{instance.project_id}/{uuid.uuid4().hex}{instance.extension}"


def _poster_key(instance: Asset, filename: str) -> str:
    return f"posters/{instance.project.owner_id}/{instance.project_id}/{uuid.uuid4().hex}.jpg"


class Asset(models.Model):
    class Kind(models.TextChoices):
        AUDIO = "audio", _("Audio")
        VIDEO = "video", _("Video")
        IMAGE = "image", _("Image")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, db_index=True)
    file = models.FileField(upload_to=_asset_key, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    extension = models.CharField(max_length=10)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField(_("size"))
    # Probed facts.
    container = models.CharField(max_length=60, blank=True)
    duration = models.FloatField(_("duration"), null=True, blank=True)
    fps_num = models.PositiveIntegerField(null=True, blank=True)
    fps_den = models.PositiveIntegerField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    rotation = models.IntegerField(default=0)
    video_codec = models.CharField(max_length=40, blank=True)
    audio_codec = models.CharField(max_length=40, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    variable_frame_rate = models.BooleanField(default=False)
    poster = models.ImageField(upload_to=_poster_key, blank=True, max_length=300)
    # Preflight: a list of {"code": ..., "message": ..., "params": {...}}.
    preflight = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["project", "sha256"], name="unique_asset_per_project")]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")

    def __str__(self) -> str:
        return self.original_name

    def save(self, *args, **kwargs) -> None:
        self.original_name = clean_name(self.original_name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("projects:asset", args=[self.pk])

    @property
    def fps(self) -> Fraction | None:
        if self.fps_num and self.fps_den:
            return Fraction(self.fps_num, self.fps_den)
        return None

    @property
    def fps_display(self) -> str:
        fps = self.fps
        if fps is None:
            return ""
        return f"{float(fps):.3f}".rstrip("0").rstrip(".") + ("" if fps.denominator == 1 else f" ({fps.numerator}/{fps.denominator})")

    @property
    def is_visual(self) -> bool:
        return self.kind in (self.Kind.VIDEO, self.Kind.IMAGE)

    @property
    def preflight_messages(self) -> list[str]:
        """The preflight findings as sentences in the active language (the batch form's audio picker)."""
        from projects.preflight import describe  # OpenCV, only where findings are shown

        return [describe(finding) for finding in self.preflight]


def default_render_settings() -> dict:
    return {
        "pad_top": 0,
        "pad_bottom": 10,
        "pad_left": 0,
        "pad_right": 0,
        "blend": "feather",
        "loop": "pingpong",
        "quality": "standard",
    }


class Template(models.Model):
    """A saved presenter + settings preset: render a new audio against it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("name"), max_length=200)
    avatar = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="templates", verbose_name=_("presenter video or image")
    )
    settings = models.JSONField(default=default_render_settings)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = clean_name(self.name)
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    """What a member may do in a project shared with them (the owner is not a Member row)."""

    VIEWER = "viewer", pgettext_lazy("project role", "Viewer")
    EDITOR = "editor", pgettext_lazy("project role", "Editor")


#: Roles a user can have in a project, weakest first ("owner" also stands for staff).
OWNER = "owner"
ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, OWNER: 3}


class Member(models.Model):
    """A user a project is shared with, and their role (healthchecks' accounts.Member)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_member_per_project")]
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class Activity(models.Model):
    """One thing a member did in a project. The actor's name is kept as it was,
    so the list stays readable when the member leaves or is deleted."""

    class Verb(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        TEMPLATE_SAVED = "template_saved", _("saved the template")
        TEMPLATE_DELETED = "template_deleted", _("deleted the template")
        STARTED = "started", _("started the batch")
        CANCELLED = "cancelled", _("cancelled")
        RETRIED = "retried", _("retried")
        DELETED = "deleted", _("deleted")
        SHARED = "shared", _("shared the project with")
        UNSHARED = "unshared", _("removed from the project")
        TRANSFERRED = "transferred", _("gave the project to")
        RENAMED = "renamed", _("renamed the project")
        ARCHIVED = "archived", _("archived the project")
        RESTORED = "restored", _("restored the project")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_name = models.CharField(max_length=150)
    verb = models.CharField(max_length=20, choices=Verb.choices)
    target = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")

    def __str__(self) -> str:
        return f"{self.actor_name} {self.verb} {self.target}"
