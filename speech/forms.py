from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ml.speech.engine import MAX_CHARS, MAX_SPEED, MIN_SPEED
from ml.speech.text import clean_text
from projects.forms import NameField
from speech.voices import available_voices


def voice_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    voices = available_voices()
    neural = [(v.name, f"{v.label} ({v.language})") for v in voices if v.engine == "neural"]
    bundled = [(v.name, f"{v.label} ({v.language})") for v in voices if v.engine != "neural"]
    groups = []
    if neural:
        groups.append((_("Installed natural voices"), neural))
    groups.append((_("Built-in voices (eSpeak NG: clear but synthetic-sounding)"), bundled))
    return groups


class SpeechForm(forms.Form):
    title = NameField(label=_("Title"), max_length=120, required=False,
                      help_text=_("The name of the audio file; the script’s first words when left empty."))
    text = forms.CharField(label=_("Script"), max_length=MAX_CHARS, widget=forms.Textarea(attrs={"rows": 10}))
    voice = forms.ChoiceField(label=_("Voice"))
    speed = forms.FloatField(label=_("Speed"), min_value=MIN_SPEED, max_value=MAX_SPEED, initial=1.0,
                             widget=forms.NumberInput(attrs={"step": "0.05"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["voice"].choices = voice_choices()
        self.fields["text"].help_text = _("Up to %(limit)s characters. Long scripts are spoken sentence by sentence.") % {
            "limit": f"{MAX_CHARS:,}"}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not any(ch.isalnum() for ch in clean_text(text).text):
            raise forms.ValidationError(_("The script has no words to speak."))
        return text

    def clean(self):
        data = super().clean()
        if data.get("text") and not data.get("title"):
            words = clean_text(data["text"]).text.split()
            data["title"] = (" ".join(words[:6]) if len(words) > 1 else clean_text(data["text"]).text[:20])[:80]
        return data

    def language(self) -> str:
        name = self.cleaned_data["voice"]
        return next(v.language for v in available_voices() if v.name == name)
