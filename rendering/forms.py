from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from projects.access import library_templates_for
from projects.forms import NameField, RenderSettingsForm
from projects.models import Asset, Project, Template
from rendering.models import Status
from rendering.quotas import QuotaExceeded, check_new_renders


class _AssetChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.original_name


class BatchForm(RenderSettingsForm):
    name = NameField(label=_("Batch name"), max_length=200)
    audio = forms.ModelChoiceField(
        label=_("Voice recording"), queryset=Asset.objects.none(), required=False, empty_label=_("— choose —")
    )
    audio_file = forms.FileField(label=_("…or upload a new recording"), required=False)
    more_audios = _AssetChoice(
        label=_("More recordings or speeches"), queryset=Asset.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each recording ticked here is spoken by every presenter too: 3 recordings × 2 presenters make 6 videos."),
    )
    videos = _AssetChoice(label=_("Presenter videos and images"), queryset=Asset.objects.none(), required=False,
                          widget=forms.CheckboxSelectMultiple)
    templates = forms.ModelMultipleChoiceField(label=_("Templates (use their own settings)"),
                                               queryset=Template.objects.none(), required=False,
                                               widget=forms.CheckboxSelectMultiple)

    field_order = ["name", "audio", "audio_file", "more_audios", "videos", "templates"]

    def __init__(self, *args, project: Project, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.user = user  # who starts the batch: whose quotas apply
        self.fields["audio"].queryset = project.assets.filter(kind=Asset.Kind.AUDIO)
        self.fields["more_audios"].queryset = project.assets.filter(kind=Asset.Kind.AUDIO)
        self.fields["videos"].queryset = project.assets.filter(kind__in=[Asset.Kind.VIDEO, Asset.Kind.IMAGE])
        # The project's own templates, and the team library's (used where they
        # are, never copied: a batch references the library's presenter file).
        own = Q(project=project)
        if user is not None:
            own |= Q(pk__in=library_templates_for(user).values("pk"))
        self.fields["templates"].queryset = (
            Template.objects.filter(own).select_related("avatar", "project").order_by("project__is_library", "name")
        )

    def clean(self):
        data = super().clean()
        if not data.get("audio") and not data.get("audio_file"):
            self.add_error("audio", _("Choose the voice recording, or upload one."))
        if not data.get("videos") and not data.get("templates"):
            self.add_error("videos", _("Choose at least one presenter video, image or template."))
        if self.user is not None and not self.errors:
            # Checked again when the batch is created; here so an uploaded
            # recording is not stored for a batch that cannot start.
            try:
                check_new_renders(self.user, self.item_count())
            except QuotaExceeded as error:
                self.add_error(None, error.message)
        return data

    def audio_count(self) -> int:
        """The recordings this batch pairs with its presenters (an uploaded one counts as one)."""
        data = self.cleaned_data
        main = data.get("audio")
        extra = [a for a in data.get("more_audios") or [] if a != main]
        return (1 if main or data.get("audio_file") else 0) + len(extra)

    def item_count(self) -> int:
        presenters = len(self.cleaned_data.get("videos") or []) + len(self.cleaned_data.get("templates") or [])
        return presenters * max(1, self.audio_count())


class HistoryFilter(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *Status.choices])
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
