"""The voice picker: a <select> of voices with a "Listen" button."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext


class VoicePicker(forms.Select):
    """Each voice option carries the URL of its sample; static/js/voice_sample.js
    plays the chosen one (loaded by base.html, it does nothing elsewhere)."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value:
            option["attrs"]["data-sample"] = reverse("speech:voice_sample", args=[value])
        return option

    def render(self, name, value, attrs=None, renderer=None):
        select = super().render(name, value, attrs, renderer)
        target = (attrs or {}).get("id") or self.attrs.get("id") or f"id_{name}"
        return format_html(
            '<span class="voice-picker">{}<button type="button" class="link" data-voice-listen="{}" '
            'data-listen="{}" data-stop="{}">{}</button><audio preload="none" hidden data-voice-audio></audio>'
            '<span class="error small" data-voice-error hidden></span></span>',
            select, target, gettext("Listen"), gettext("Stop"), gettext("Listen"))
