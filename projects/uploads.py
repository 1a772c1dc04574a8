"""Taking uploaded files into a project: refuse what cannot be used, with a
reason per file, and store the rest with their probed facts."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ml.hashing import file_sha256
from projects import audio_preflight, preflight
from projects.models import Asset, Project
from projects.probe import MediaInfo, ProbeError, media_limits, probe, sample_frames
from rendering import quotas

MAX_NAME = 255


@dataclass
class UploadOutcome:
    name: str
    asset: Asset | None = None
    duplicate: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def display_name(name: str) -> str:
    """The client's file name, kept for display only: no directories, no
    control characters, at most 255 characters (keeping the extension)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "upload"
    if len(name) > MAX_NAME:
        suffix = Path(name).suffix[:16]
        name = name[: MAX_NAME - len(suffix)] + suffix
    return name


def refusal_message(name: str, error: ProbeError) -> str:
    params = {"name": name, **error.params}
    messages = {
        "bad_extension": _(
            "%(name)s: files ending in “%(extension)s” are not supported. Upload audio (wav, mp3, m4a, "
            "ogg, opus, flac), video (mp4, mov, mkv, webm) or images (jpg, png)."
        ),
        "empty": _("%(name)s is empty (0 bytes)."),
        "too_large": _("%(name)s is larger than the upload limit of %(limit)s MB."),
        "undecodable": _("%(name)s is not an audio, video or image file that can be read."),
        "extension_mismatch": _(
            "%(name)s is really an %(kind)s file, but its name ends in “%(extension)s”. "
            "Export it again in the right format."
        ),
        "corrupt": _("%(name)s is damaged and cannot be decoded."),
        "truncated": _("%(name)s is incomplete: the file was cut short (interrupted copy or export)."),
        "no_streams": _("%(name)s holds no audio or video."),
    }
    if error.code == "over_limit":
        return _over_limit_message(params)
    kinds = {"audio": _("audio"), "video": _("video"), "image": _("image")}
    if "kind" in params:
        params["kind"] = kinds.get(params["kind"], params["kind"])
    return messages.get(error.code, _("%(name)s cannot be used.")) % params


def _over_limit_message(params: dict) -> str:
    """A media limit refusal names the limit and the file's value
    (ml.limits formats the numbers: H:MM:SS, frames per second, pixels)."""
    limit = params["limit"]
    if limit == "duration":
        if not params["value"]:  # demuxing stopped at the limit: the real length is unknown
            return _("%(name)s is longer than %(maximum)s, the limit.") % params
        return _("%(name)s is %(value)s long; the limit is %(maximum)s.") % params
    if limit == "fps":
        return _("%(name)s has %(value)s frames per second; the limit is %(maximum)s.") % params
    if limit == "frame_side":
        return _("%(name)s is %(width)s×%(height)s pixels; the limit is %(maximum)s pixels on the longer side.") % params
    return _(
        "%(name)s is %(width)s×%(height)s pixels (%(value)s megapixels); the limit is %(maximum)s megapixels."
    ) % params


def ingest(project: Project, upload: UploadedFile) -> UploadOutcome:
    name = display_name(upload.name or "")
    limit = settings.HEYGEM_MAX_UPLOAD_MB
    try:
        if upload.size is not None and upload.size > limit * 1024 * 1024:
            raise ProbeError("too_large", limit=limit)
        quotas.check_upload(project.owner, name, upload.size or 0)
        with _local_path(upload) as path:
            return _ingest_path(project, path, name)
    except ProbeError as error:
        return UploadOutcome(name=name, error=refusal_message(name, error))
    except quotas.QuotaExceeded as error:
        return UploadOutcome(name=name, error=error.message)


def _ingest_path(project: Project, path: Path, name: str) -> UploadOutcome:
    if path.stat().st_size == 0:
        raise ProbeError("empty")
    digest = file_sha256(path)
    existing = project.assets.filter(sha256=digest).first()
    if existing:
        return UploadOutcome(name=name, asset=existing, duplicate=True)
    info = probe(path, name, media_limits())
    findings: list[dict] = []
    poster: bytes | None = None
    if info.kind in ("video", "image"):
        findings, poster = _preflight(path, info)
    else:
        findings = audio_preflight.check_audio(path, info.duration, media_limits())
    asset = Asset(
        project=project,
        kind=info.kind,
        original_name=name,
        extension=Path(name).suffix.lower(),
        sha256=digest,
        size=path.stat().st_size,
        preflight=findings,
        **_fields(info),
    )
    try:
        with transaction.atomic():
            with path.open("rb") as fh:
                asset.file.save("upload", File(fh), save=False)
            if poster:
                asset.poster.save("poster.jpg", ContentFile(poster), save=False)
            asset.save()
    except IntegrityError:
        # The same file arrived twice at once: keep the first.
        _delete_files(asset)
        return UploadOutcome(name=name, asset=project.assets.get(sha256=digest), duplicate=True)
    except Exception:
        _delete_files(asset)
        raise
    project.touch()
    return UploadOutcome(name=name, asset=asset)


def _preflight(path: Path, info: MediaInfo) -> tuple[list[dict], bytes | None]:
    try:
        frames = sample_frames(path, preflight.SAMPLE_FRAMES if info.kind == "video" else 1, max_width=960)
    except Exception as exc:  # a decoder error deep in the file
        raise ProbeError("corrupt", str(exc)) from None
    if not frames:
        raise ProbeError("corrupt", "no frame decodes")
    findings = preflight.check_frames(
        frames, width=info.width or 0, height=info.height or 0, variable_frame_rate=info.variable_frame_rate
    )
    poster_frame = preflight.best_poster_frame(frames)
    return findings, preflight.encode_poster(poster_frame) if poster_frame is not None else None


def _fields(info: MediaInfo) -> dict:
    return {
        "container": info.container[:60],
        "duration": info.duration,
        "fps_num": info.fps.numerator if info.fps else None,
        "fps_den": info.fps.denominator if info.fps else None,
        "frame_count": info.frame_count,
        "width": info.width,
        "height": info.height,
        "rotation": info.rotation,
        "video_codec": info.video_codec,
        "audio_codec": info.audio_codec,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "variable_frame_rate": info.variable_frame_rate,
    }


def _delete_files(asset: Asset) -> None:
    for field in (asset.file, asset.poster):
        if field and field.name:
            field.storage.delete(field.name)


class _local_path:
    """The upload as a file on disk (Django normally has one already)."""

    def __init__(self, upload: UploadedFile):
        self.upload = upload
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        if hasattr(self.upload, "temporary_file_path"):
            return Path(self.upload.temporary_file_path())
        fd, name = tempfile.mkstemp(prefix="heygem-upload-")
        self.tmp = Path(name)
        with open(fd, "wb") as out:
            self.upload.seek(0)
            shutil.copyfileobj(self.upload, out)
        return self.tmp

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
