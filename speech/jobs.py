"""The speech job (queue `default`): speak the script, then store the WAV
as an ordinary audio asset of the project (probed like an upload)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File

from ml.speech import SpeechError, synthesize
from projects.uploads import ingest
from speech.models import Speech

log = logging.getLogger(__name__)
#: At most one progress write per this many seconds (the row is what the page polls).
WRITE_EVERY_S = 0.5


class _LocalFile(File):
    """A file already on disk: ingest probes it in place."""

    def temporary_file_path(self) -> str:
        return self.file.name


def synthesize_speech(speech_id: int) -> None:
    claimed = Speech.objects.filter(pk=speech_id, status=Speech.Status.QUEUED).update(status=Speech.Status.RUNNING)
    if not claimed:
        return
    speech = Speech.objects.select_related("project").get(pk=speech_id)
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
        with out.open("rb") as fh:
            outcome = ingest(speech.project, _LocalFile(fh, name=f"{speech.title}.wav"))
        if outcome.error:
            _fail(speech, outcome.error)
            return
        Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.SUCCEEDED, asset=outcome.asset,
                                                   findings=findings)
        log.info("speech %s: %.1f s of audio", speech.pk, result.duration)
    except SpeechError as err:
        _fail(speech, str(err))
    except Exception:
        log.exception("speech %s failed", speech.pk)
        _fail(speech, "")
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fail(speech: Speech, message: str) -> None:
    Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.FAILED, error=message)
