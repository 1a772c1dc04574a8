"""Speech from a script on the command line: the same engine and cleaning as the web."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.speech import SpeechError, list_voices, synthesize


class Command(BaseCommand):
    help = "Speak a script into a WAV file (as the web's “Speech from a script” does), or list the voices."

    def add_arguments(self, parser):
        parser.add_argument("--text-file", help="UTF-8 text file with the script")
        parser.add_argument("--language", help="language code: en, zh (Mandarin), yue, de, fr, ...")
        parser.add_argument("--voice", help="an installed voice's name, or espeak:<code> (default: the language's built-in voice)")
        parser.add_argument("--speed", type=float, default=1.0, help="0.5 to 2.0 (default 1.0)")
        parser.add_argument("--out", help="the WAV file to write")
        parser.add_argument("--list-voices", action="store_true", help="list the installed and built-in voices")

    def handle(self, *args, text_file, language, voice, speed, out, list_voices: bool, **options):
        model_dir = Path(settings.HEYGEM_MODEL_DIR)
        if list_voices:
            for v in _voices(model_dir):
                kind = "natural (installed)" if v.engine == "neural" else "built-in eSpeak NG (synthetic)"
                self.stdout.write(f"{v.name:<28} {v.language:<14} {v.label}  [{kind}]")
            return
        if not text_file or not out or not (language or voice):
            raise CommandError("Give --text-file, --language (or --voice) and --out, or --list-voices.")
        try:
            text = Path(text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise CommandError(f"Cannot read {text_file} as UTF-8 text: {err}") from err
        try:
            result = synthesize(text, language or "", Path(out), voice=voice, speed=speed, model_dir=model_dir)
        except SpeechError as err:
            raise CommandError(str(err)) from err
        if result.unsupported:
            self.stderr.write(self.style.WARNING("Left out (cannot be spoken): " + " ".join(result.unsupported[:20])))
        if result.mismatch:
            self.stderr.write(self.style.WARNING(
                f"The script is mostly {result.mismatch} text, which does not fit the voice's language "
                f"({result.voice.language}): it will be mispronounced."))
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {out}: {result.duration:.1f} s, {result.sample_rate} Hz, voice {result.voice.name}"))


def _voices(model_dir: Path):
    return list_voices(model_dir)
