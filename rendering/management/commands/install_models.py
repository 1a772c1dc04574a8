"""Install the Wav2Lip checkpoint (and the S3FD face detector) that the user
downloaded themselves: HeyGem cannot ship them (non-commercial licence).
``--test-checkpoint`` writes a random one instead, to check the pipeline.

Unless the workers use the torch backend (``HEYGEM_ENGINE_BACKEND``), the
ONNX graph of the checkpoint in use is built here too (``--build-graph``
alone builds it for the installed checkpoint), so that the first render
does not pay for it."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.checkpoint import TEST_MODEL_NOTE
from ml.errors import LipSyncError
from ml.install import find_installed, install_checkpoint, install_test_checkpoint, where_to_get_text


class Command(BaseCommand):
    help = "Copy or download model files into HEYGEM_MODEL_DIR, checking their SHA-256."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="sources", action="append", default=[],
                            help="a .pth file, or a folder holding them (repeatable)")
        parser.add_argument("--url", dest="urls", action="append", default=[], help="download from this URL")
        parser.add_argument("--name", help="file name for a custom (fine-tuned) checkpoint")
        parser.add_argument("--voice", dest="voices", action="append", default=[],
                            help="a VITS/Piper .onnx voice (tokens.txt beside it), or a folder holding one (repeatable)")
        parser.add_argument("--voice-name", help="the name the voice picker shows (default: the file name)")
        parser.add_argument("--voice-language", help="the voice's language code, e.g. en-us or cmn"
                                                     " (default: from the Piper .onnx.json beside it)")
        parser.add_argument("--test-checkpoint", action="store_true",
                            help="write a randomly initialised checkpoint to check the whole pipeline before you"
                                 " have the weights (its mouth is noise, not lip-sync)")
        parser.add_argument("--build-graph", action="store_true",
                            help="build the ONNX graph of the installed checkpoint now (done anyway after an"
                                 " install unless HEYGEM_ENGINE_BACKEND is torch)")

    def handle(self, *args, sources, urls, name, test_checkpoint, build_graph, voices, voice_name, voice_language,
               **options):
        model_dir = Path(settings.HEYGEM_MODEL_DIR)
        if voices:
            if sources or urls or name or test_checkpoint or build_graph:
                raise CommandError("--voice is installed on its own (no --from, --url, --name, --test-checkpoint"
                                   " or --build-graph).")
            self._install_voices(voices, model_dir, voice_name, voice_language)
            return
        if test_checkpoint:
            if sources or urls or name:
                raise CommandError("--test-checkpoint takes no --from, --url or --name.")
            self._install_test(model_dir)
            self._build_graph(model_dir, build_graph)
            return
        files: list[str] = []
        for source in sources:
            path = Path(source).expanduser()
            if path.is_dir():
                found = sorted(str(p) for p in path.glob("*.pth"))
                if not found:
                    raise CommandError(f"No .pth files in {path}.")
                files += found
            elif path.is_file():
                files.append(str(path))
            else:
                raise CommandError(f"{path} does not exist.")
        files += urls
        if not files and build_graph:
            if not find_installed(model_dir).ready:
                raise CommandError("No Wav2Lip checkpoint is installed: install one with --from first.")
            self._build_graph(model_dir, True)
            return
        if not files:
            installed = find_installed(model_dir)
            self.stdout.write(f"Model directory: {model_dir}")
            self.stdout.write(f"Wav2Lip checkpoint: {installed.wav2lip or 'not installed'}")
            if installed.test_model:
                self.stdout.write(self.style.WARNING(f"  {TEST_MODEL_NOTE}"))
            self.stdout.write(f"S3FD face detector: {installed.s3fd or 'not installed (OpenCV Haar is used instead)'}")
            self.stdout.write("")
            self.stdout.write(where_to_get_text())
            self.stdout.write("\nThen: manage.py install_models --from /path/to/file.pth")
            self.stdout.write("To check the whole pipeline before you have the weights:"
                              " manage.py install_models --test-checkpoint")
            return
        failed = False
        for source in files:
            try:
                info = install_checkpoint(source, model_dir, name=name)
            except LipSyncError as err:
                failed = True
                self.stderr.write(self.style.ERROR(f"{Path(source).name}: {err}"))
                continue
            if info.test_model:
                label = TEST_MODEL_NOTE
            elif info.official:
                label = "official file, checksum verified"
            else:
                label = "custom checkpoint (unknown checksum)"
            self.stdout.write(self.style.SUCCESS(f"Installed {info.name} ({info.size:,} bytes, {label}) in {model_dir}"))
            if info.removed_test_model:
                self.stdout.write("Removed the test model: renders now use this checkpoint.")
        if failed:
            raise CommandError("Some files were refused; nothing of them was installed.")
        self._build_graph(model_dir, build_graph)

    def _build_graph(self, model_dir: Path, force: bool) -> None:
        """The ONNX graph of the checkpoint in use, cached beside it by sha256."""
        if not force and settings.HEYGEM_ENGINE_BACKEND == "torch":
            return
        installed = find_installed(model_dir)
        if not installed.ready:
            return
        from ml.backends import ensure_onnx, onnx_runtime_available
        from ml.hashing import file_sha256

        if not onnx_runtime_available():
            self.stdout.write(self.style.WARNING("onnxruntime is not installed: workers will use the torch backend."))
            return
        self.stdout.write(f"Building the ONNX graph of {installed.wav2lip.name} (once per checkpoint)...")
        path, built = ensure_onnx(installed.wav2lip, file_sha256(installed.wav2lip))
        self.stdout.write(self.style.SUCCESS(f"ONNX graph {'built' if built else 'already up to date'}: {path}"))

    def _install_voices(self, voices: list[str], model_dir: Path, name: str | None, language: str | None) -> None:
        from ml.speech import SpeechError
        from ml.speech.neural import install_voice
        from ml.speech.samples import write_installed_sample

        if name and len(voices) > 1:
            raise CommandError("--voice-name names one voice; install the others separately.")
        failed = False
        for source in voices:
            try:
                voice = install_voice(Path(source), model_dir, name=name, language=language)
            except SpeechError as err:
                failed = True
                self.stderr.write(self.style.ERROR(f"{Path(source).name}: {err}"))
                continue
            self.stdout.write(self.style.SUCCESS(
                f"Installed voice {voice.name} ({voice.language}) in {voice.folder}; it is in the voice picker"
                " after the web and workers restart."))
            try:
                sample = write_installed_sample(model_dir, voice)
            except SpeechError as err:
                # The picker's "Listen" then says the voice has no sample.
                self.stderr.write(self.style.WARNING(f"{voice.name}: could not speak its sample ({err})."))
            else:
                self.stdout.write(f"Spoke its sample for the voice picker: {sample}")
        if failed:
            raise CommandError("Some voices were refused; nothing of them was installed.")

    def _install_test(self, model_dir: Path) -> None:
        info = install_test_checkpoint(model_dir)
        self.stdout.write(self.style.WARNING(f"Installed {info.name} ({info.size:,} bytes) in {model_dir}."))
        self.stdout.write(self.style.WARNING(
            f"{TEST_MODEL_NOTE} Every page, render log and manifest says so. Use it to check the whole"
            " pipeline (upload, face check, queue, render, download); install the real weights with"
            " --from for lip-sync, which removes it."
        ))
        installed = find_installed(model_dir)
        if not installed.test_model:
            self.stdout.write(f"{installed.wav2lip.name} is installed and stays in use: renders ignore the test model.")
