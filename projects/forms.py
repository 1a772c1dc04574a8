from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from heygem_site.text import clean_name
from projects.models import Asset, Project, Role, Template, default_render_settings
from speech.widgets import VoicePicker


class NameField(forms.CharField):
    """A name as it will be saved (see clean_name): a name of nothing but
    line breaks is an empty name."""

    def to_python(self, value) -> str:
        return clean_name(super().to_python(value))


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        field_classes = {"name": NameField}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class RenderSettingsForm(forms.Form):
    """The knobs of a render, shared by templates and new batches."""

    pad_top = forms.IntegerField(label=_("Pad top (px)"), min_value=0, max_value=400, initial=0)
    pad_bottom = forms.IntegerField(
        label=_("Pad bottom (px)"),
        min_value=0,
        max_value=400,
        initial=10,
        help_text=_("Extra pixels below the detected face, so the chin is included."),
    )
    pad_left = forms.IntegerField(label=_("Pad left (px)"), min_value=0, max_value=400, initial=0)
    pad_right = forms.IntegerField(label=_("Pad right (px)"), min_value=0, max_value=400, initial=0)
    blend = forms.ChoiceField(
        label=_("Blending"),
        choices=[("feather", _("Feathered mouth area (no visible box)")), ("none", _("Whole face box (like Wav2Lip)"))],
        initial="feather",
    )
    loop = forms.ChoiceField(
        label=_("When the audio is longer than the video"),
        choices=[("pingpong", _("Play the video forwards then backwards (no jump)")), ("forward", _("Start the video again from the beginning"))],
        initial="pingpong",
    )
    quality = forms.ChoiceField(
        label=_("Output quality"),
        choices=[
            ("standard", _("Standard (small files)")),
            ("high", _("High")),
            ("lossless", _("Lossless (large files, for editing)")),
        ],
        initial="standard",
    )

    SETTING_FIELDS = ("pad_top", "pad_bottom", "pad_left", "pad_right", "blend", "loop", "quality")

    @classmethod
    def initial_from(cls, settings: dict | None) -> dict:
        merged = default_render_settings()
        merged.update({k: v for k, v in (settings or {}).items() if k in cls.SETTING_FIELDS})
        return merged

    def settings_dict(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SETTING_FIELDS}


class TemplateForm(RenderSettingsForm):
    name = NameField(label=_("Template name"), max_length=200)
    avatar = forms.ModelChoiceField(
        label=_("Presenter video or image"), queryset=Asset.objects.none(), empty_label=_("Choose a presenter")
    )

    voice = forms.ChoiceField(
        label=_("Voice for scripts"), required=False, widget=VoicePicker,
        help_text=_("With a voice, a script (or a CSV of scripts) becomes videos of this presenter in one step."),
    )
    voice_speed = forms.FloatField(label=_("Speed of the voice"), required=False, min_value=0.5, max_value=2.0,
                                   initial=1.0, widget=forms.NumberInput(attrs={"step": "0.05"}))

    field_order = ["name", "avatar"]

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["avatar"].queryset = project.assets.filter(kind__in=[Asset.Kind.VIDEO, Asset.Kind.IMAGE])
        from speech.voices import voice_choices  # loads the speech library: only where the picker is shown

        self.fields["voice"].choices = [("", _("No voice (voice recordings only)")), *voice_choices()]

    @staticmethod
    def voice_initial(settings: dict | None) -> dict:
        voice = (settings or {}).get("voice") or {}
        return {"voice": voice.get("voice", ""), "voice_speed": voice.get("speed", 1.0)}

    def save(self, project: Project, instance: Template | None = None) -> Template:
        from speech.voices import language_of

        template = instance or Template(project=project)
        template.name = self.cleaned_data["name"]
        template.avatar = self.cleaned_data["avatar"]
        template.settings = self.settings_dict()
        if voice := self.cleaned_data.get("voice"):
            template.settings["voice"] = {"voice": voice, "language": language_of(voice),
                                          "speed": self.cleaned_data.get("voice_speed") or 1.0}
        template.save()
        project.touch()
        return template


class ShareForm(forms.Form):
    """Share a project with a member, change their role, or remove them."""

    username = forms.CharField(label=_("Member's user name"), max_length=150)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[
            (Role.VIEWER.value, _("Viewer: sees assets, batches and results, downloads")),
            (Role.EDITOR.value, _("Editor: also uploads, saves templates, starts, cancels and retries batches")),
            ("none", _("No access: remove from the project")),
        ],
    )

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise forms.ValidationError(_("There is no member called “%(name)s”.") % {"name": name})
        return user


class TransferForm(forms.Form):
    username = forms.CharField(label=_("New owner's user name"), max_length=150)
    clean_username = ShareForm.clean_username
