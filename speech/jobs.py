"""The speech jobs (queue `default`): speak a script, then store the WAV as
an ordinary audio asset of the project (probed like an upload); a batch of
scripts is spoken one after the other, then rendered against its template."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ml.speech import SpeechError, synthesize
from projects.uploads import ingest
from rendering.quotas import QuotaExceeded
from speech.models import ScriptBatch, Speech

log = logging.getLogger(__name__)
#: At most one progress write per this many seconds (the row is what the page polls).
WRITE_EVERY_S = 0.5


class _LocalFile(File):
    """A file already on disk: ingest probes it in place."""

    def temporary_file_path(self) -> str:
        return self.file.name


def synthesize_speech(speech_id: int) -> None:
    if Speech.objects.filter(pk=speech_id, status=Speech.Status.QUEUED).update(status=Speech.Status.RUNNING):
        _speak(Speech.objects.select_related("project").get(pk=speech_id))


def speak_script_batch(plan_id: int) -> None:
    if not ScriptBatch.objects.filter(pk=plan_id, status=ScriptBatch.Status.QUEUED).update(
            status=ScriptBatch.Status.RUNNING):
        return
    plan = ScriptBatch.objects.select_related("project", "owner", "template", "template__avatar").get(pk=plan_id)
    speeches = list(plan.speeches.select_related("project").order_by("position"))
    for speech in speeches:
        if not Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.RUNNING):
            return  # deleted with its project meanwhile: the rest is not spoken
        _speak(speech)
    _start_render_batch(plan)


def _start_render_batch(plan: ScriptBatch) -> None:
    from rendering import services

    speeches = list(plan.speeches.select_related("asset").order_by("position"))
    spoken = [s.asset for s in speeches if s.status == Speech.Status.SUCCEEDED and s.asset]
    failed = [s for s in speeches if s.status == Speech.Status.FAILED]
    notes = []
    if failed:
        notes.append(ngettext("%(count)d script could not be spoken: %(titles)s.",
                              "%(count)d scripts could not be spoken: %(titles)s.", len(failed))
                     % {"count": len(failed), "titles": ", ".join(f"“{s.title}”" for s in failed[:10])})
    template = plan.template
    if template is None:
        notes.append(_("The template was deleted before the videos could start."))
    elif spoken:
        # Each item keeps its script's recording: named "title × template", one zip folder per title.
        items = [services.Item(template.avatar, template, audio) for audio in spoken]
        try:
            batch = services.create_batch(plan.owner, plan.project, plan.name, spoken[0], items, dict(template.settings))
        except QuotaExceeded as error:
            notes.append(error.message)
        else:
            ScriptBatch.objects.filter(pk=plan.pk).update(status=ScriptBatch.Status.SUCCEEDED, batch=batch,
                                                          error=" ".join(notes))
            return
    ScriptBatch.objects.filter(pk=plan.pk).update(status=ScriptBatch.Status.FAILED, error=" ".join(notes))


def _speak(speech: Speech) -> None:
    root = Path(settings.HEYGEM_SCRATCH_DIR)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"speech-{speech.pk}-", dir=root))
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= WRITE_EVERY_S:
            last[0] = now
            Speech.objects.filter(pk=speech.pk).update(done=done, total=total)

    try:
        out = scratch / "speech.wav"
        result = synthesize(speech.text, speech.language, out, voice=speech.voice, speed=speech.speed,
                            model_dir=Path(settings.HEYGEM_MODEL_DIR), progress=progress)
        findings = {"unsupported": result.unsupported, "mismatch": result.mismatch, "voice": result.voice.label,
                    "duration": round(result.duration, 2)}
        if not Speech.objects.filter(pk=speech.pk).exists():
            # Deleted while it was spoken (its project went): nothing to store.
            return
        with out.open("rb") as fh:
            outcome = ingest(speech.project, _LocalFile(fh, name=f"{speech.title}.wav"))
        if outcome.error:
            _fail(speech, outcome.error)
            return
        Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.SUCCEEDED, asset=outcome.asset,
                                                   findings=findings)
        log.info("speech %s: %.1f s of audio", speech.pk, result.duration)
    except SpeechError as err:
        _fail(speech, speech_error_text(err))
    except Exception:
        log.exception("speech %s failed", speech.pk)
        _fail(speech, _("The speech could not be made (an unexpected error; the administrator can see it in the log)."))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def speech_error_text(err: SpeechError) -> str:
    """The engine's error in the member's language (the engine speaks English only)."""
    texts = {
        "too_long": _("The script is too long: %(length)s characters, the limit is %(limit)s."),
        "empty": _("The script has no words to speak."),
        "bad_speed": _("The speed must be between 0.5 and 2."),
        "voice_not_found": _("The voice “%(voice)s” is not installed (any more)."),
        "voice_corrupt": _("The voice's files are damaged; ask your administrator to install it again."),
        "silent": _("The voice produced silence for this script: try another voice for its language."),
    }
    params = {"voice": "", "length": "", "limit": "", **{k: (f"{v:,}" if isinstance(v, int) else v)
                                                        for k, v in err.params.items()}}
    return texts[err.code] % params if err.code in texts else str(err)


def _fail(speech: Speech, message: str) -> None:
    Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.FAILED, error=message)
