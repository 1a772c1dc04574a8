"""Install the Wav2Lip checkpoint (and the S3FD face detector) that the user
downloaded themselves: HeyGem cannot ship them (non-commercial licence)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ml.errors import LipSyncError
from ml.install import find_installed, install_checkpoint, where_to_get_text


class Command(BaseCommand):
    help = "Copy or download model files into HEYGEM_MODEL_DIR, checking their SHA-256."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="sources", action="append", default=[],
                            help="a .pth file, or a folder holding them (repeatable)")
        parser.add_argument("--url", dest="urls", action="append", default=[], help="download from this URL")
        parser.add_argument("--name", help="file name for a custom (fine-tuned) checkpoint")

    def handle(self, *args, sources, urls, name, **options):
        model_dir = Path(settings.HEYGEM_MODEL_DIR)
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
        if not files:
            installed = find_installed(model_dir)
            self.stdout.write(f"Model directory: {model_dir}")
            self.stdout.write(f"Wav2Lip checkpoint: {installed.wav2lip or 'not installed'}")
            self.stdout.write(f"S3FD face detector: {installed.s3fd or 'not installed (OpenCV Haar is used instead)'}")
            self.stdout.write("")
            self.stdout.write(where_to_get_text())
            self.stdout.write("\nThen: manage.py install_models --from /path/to/file.pth")
            return
        failed = False
        for source in files:
            try:
                info = install_checkpoint(source, model_dir, name=name)
            except LipSyncError as err:
                failed = True
                self.stderr.write(self.style.ERROR(f"{Path(source).name}: {err}"))
                continue
            label = "official file, checksum verified" if info.official else "custom checkpoint (unknown checksum)"
            self.stdout.write(self.style.SUCCESS(f"Installed {info.name} ({info.size:,} bytes, {label}) in {model_dir}"))
        if failed:
            raise CommandError("Some files were refused; nothing of them was installed.")
