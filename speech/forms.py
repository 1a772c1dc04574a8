from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ml.speech.engine import MAX_CHARS, MAX_SPEED, MIN_SPEED
from ml.speech.text import clean_text
from projects.access import library_templates_for
from projects.forms import NameField
from speech.voices import available_voices, voice_choices
from speech.widgets import VoicePicker


class SpeechForm(forms.Form):
    title = NameField(label=_("Title"), max_length=120, required=False,
                      help_text=_("The name of the audio file; the script’s first words when left empty."))
    text = forms.CharField(label=_("Script"), max_length=MAX_CHARS, widget=forms.Textarea(attrs={"rows": 10}))
    voice = forms.ChoiceField(label=_("Voice"), widget=VoicePicker)
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


#: A CSV of scripts is read whole (it is text, and small): at most this many bytes.
CSV_MAX_BYTES = 2 * 1024 * 1024
SCRIPT_SEPARATOR = "---"
#: A checked CSV's rows ride along in the page (JSON) up to this size, so
#: "Check" then "Speak and render" needs no second upload; a larger one is
#: chosen again (Django refuses form data over DATA_UPLOAD_MAX_MEMORY_SIZE).
CHECKED_MAX_CHARS = 1_500_000


class ScriptBatchForm(forms.Form):
    """Scripts × one template: typed (separated by a line of ---) or a CSV
    with a title and a script column, one row per video."""

    name = NameField(label=_("Batch name"), max_length=200)
    template = forms.ModelChoiceField(label=_("Template"), queryset=None, empty_label=_("Choose a template"))
    voice = forms.ChoiceField(label=_("Voice"), required=False, widget=VoicePicker)
    scripts_csv = forms.FileField(
        label=_("CSV of scripts"), required=False,
        help_text=_("One row per video, with a “title” and a “script” column (UTF-8, a header row first)."))
    scripts = forms.CharField(
        label=_("…or type the scripts"), required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Separate the scripts with a line holding only ---. Each is named after its first words."))
    #: The rows of a CSV already checked (JSON [[title, script], ...]), when no other file is chosen.
    checked_rows = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, project, user=None, rows: list[tuple[str, str]] | None = None, **kwargs):
        """`rows`: scripts [(title, text), ...] already split (the API sends
        them as JSON); checked as typed scripts are."""
        super().__init__(*args, **kwargs)
        self.given_rows = rows
        templates = project.templates.all()
        if user is not None:
            # The team library's templates too, as in the batch form (projects/access.py decides).
            templates = templates | library_templates_for(user)
        self.fields["template"].queryset = templates.select_related("avatar", "project").distinct()
        self.fields["voice"].choices = [("", _("The template’s voice")), *voice_choices()]

    def clean(self):
        data = super().clean()
        template = data.get("template")
        voice = data.get("voice") or ((template.settings.get("voice") or {}).get("voice") if template else None)
        if template and not voice:
            self.add_error("voice", _("This template has no voice: choose one."))
        data["voice_name"] = voice
        template_voice = (template.settings.get("voice") or {}) if template else {}
        data["speed"] = float(template_voice.get("speed", 1.0)) if not data.get("voice") else 1.0
        if self.given_rows is not None:
            data["rows"] = self._given(self.given_rows)
        elif data.get("scripts_csv"):
            data["rows"] = self._read_csv(data["scripts_csv"])
        elif data.get("scripts"):
            data["rows"] = self._split_typed(data["scripts"])
        elif data.get("checked_rows"):
            data["rows"] = self._checked(data["checked_rows"])
        else:
            self.add_error("scripts", _("Upload a CSV of scripts, or type at least one script."))
        return data

    def _checked(self, text: str) -> list[tuple[str, str]]:
        import json

        try:
            rows = [(str(title), str(script)) for title, script in json.loads(text)]
        except (ValueError, TypeError):
            self.add_error("scripts_csv", _("Choose the CSV again."))
            return []
        return self._given(rows)

    def checked_json(self) -> str:
        """The rows read from a CSV, for the page after "Check" ("" when too large to carry)."""
        import json

        if not (self.cleaned_data.get("scripts_csv") or self.cleaned_data.get("checked_rows")):
            return ""
        text = json.dumps(self.cleaned_data.get("rows") or [], ensure_ascii=False)
        return text if len(text) <= CHECKED_MAX_CHARS else ""

    def _check(self, rows: list[tuple[str, str]], where) -> list[tuple[str, str]]:
        from ml.speech.engine import MAX_CHARS

        if not rows:
            raise forms.ValidationError(_("No scripts found."))
        for n, (title, text) in enumerate(rows):
            if not any(ch.isalnum() for ch in clean_text(text).text):
                raise forms.ValidationError(_("%(where)s has no words to speak.") % {"where": where(n, title)})
            if len(text) > MAX_CHARS:
                raise forms.ValidationError(_("%(where)s is %(length)s characters long; the limit is %(limit)s.") % {
                    "where": where(n, title), "length": f"{len(text):,}", "limit": f"{MAX_CHARS:,}"})
        return rows

    def _split_typed(self, text: str) -> list[tuple[str, str]]:
        import re

        parts = [p.strip() for p in re.split(rf"^\s*{SCRIPT_SEPARATOR}\s*$", text, flags=re.MULTILINE)]
        return self._given([(_title(p), p) for p in parts if p])

    def _given(self, rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
        rows = [((title or "").strip() or _title(text), text) for title, text in rows]
        try:
            return self._check(rows, lambda n, title: _("Script %(n)d (“%(title)s”)") % {"n": n + 1, "title": title})
        except forms.ValidationError as error:
            self.add_error("scripts", error)
            return []

    def _read_csv(self, upload) -> list[tuple[str, str]]:
        import csv
        import io

        try:
            if upload.size > CSV_MAX_BYTES:
                raise forms.ValidationError(_("The CSV is larger than %(limit)s MB.") % {"limit": CSV_MAX_BYTES // 2**20})
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The CSV is not UTF-8 text: save it as “CSV UTF-8”.")) from None
            reader = csv.DictReader(io.StringIO(text))
            columns = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
            script_column = columns.get("script") or columns.get("text")
            if "title" not in columns or not script_column:
                raise forms.ValidationError(_("The CSV needs a “title” and a “script” column in its first row."))
            rows = []
            for row in reader:
                title = (row.get(columns["title"]) or "").strip()
                script = (row.get(script_column) or "").strip()
                if title or script:
                    rows.append((title or _title(script), script))
            # Row numbers as a spreadsheet shows them: the header is row 1.
            return self._check(rows, lambda n, title: _("Row %(row)d (“%(title)s”)") % {"row": n + 2, "title": title})
        except forms.ValidationError as error:
            self.add_error("scripts_csv", error)
            return []


def _title(text: str) -> str:
    words = clean_text(text).text.split()
    return (" ".join(words[:6]) if len(words) > 1 else clean_text(text).text[:20])[:80] or "script"
