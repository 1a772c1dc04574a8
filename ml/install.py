"""Installing model files into the model directory, and finding them there.

The Wav2Lip weights may not be bundled (non-commercial licence); the user
downloads them and installs them with :func:`install_checkpoint` (the Django
management command is a thin shell over it).
"""

from __future__ import annotations

import os
import shutil
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import (
    KNOWN_FILES,
    S3FD_FILENAME,
    TEST_CHECKPOINT_NAME,
    TEST_MARKER_KEY,
    CheckpointInfo,
    KnownFile,
    identify,
    is_test_checkpoint,
)
from .errors import CheckpointCorrupt, CheckpointError, ModelNotInstalled
from .hashing import file_sha256

WAV2LIP_NAMES = ("wav2lip_gan.pth", "wav2lip.pth")  # preference order


def where_to_get_text() -> str:
    """Where to get the model files, for install pages and error messages."""
    rows = "\n".join(f"  {k.name:<22} {k.size:>12,} bytes  sha256 {k.sha256}" for k in KNOWN_FILES)
    return (
        "HeyGem needs the Wav2Lip weights, which it cannot ship: they are for personal,\n"
        "research and non-commercial use only (trained on LRS2).\n"
        "- wav2lip.pth / wav2lip_gan.pth: links in the README of\n"
        "  https://github.com/Rudrabha/Wav2Lip (section 'Getting the weights').\n"
        "- s3fd-619a316812.pth (face detector, optional but recommended):\n"
        "  https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth\n"
        "Then install each file with the install command; files are checked against:\n"
        f"{rows}"
    )


@dataclass(frozen=True)
class InstallInfo:
    path: Path
    name: str  # file name in the model directory
    sha256: str
    size: int
    official: bool  # matches a published checksum
    kind: str  # "wav2lip" or "s3fd"
    test_model: bool = False  # the random test checkpoint: its mouth is noise
    removed_test_model: bool = False  # a real checkpoint replaced the test one

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "official": self.official,
            "kind": self.kind,
            "test_model": self.test_model,
            "removed_test_model": self.removed_test_model,
        }


def _known(sha: str) -> KnownFile | None:
    return next((k for k in KNOWN_FILES if k.sha256 == sha), None)


def _fetch(source: str, dest_dir: Path) -> Path:
    """Download ``source`` into a temp file in ``dest_dir`` (no shell)."""
    tmp = dest_dir / f".download.{uuid.uuid4().hex}.part"
    try:
        with urllib.request.urlopen(source, timeout=60) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out, length=1 << 20)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            raise ModelNotInstalled(f"Download failed: {exc}") from None
        raise
    return tmp


def install_checkpoint(source: str | os.PathLike, model_dir: str | os.PathLike, name: str | None = None) -> InstallInfo:
    """Copy (or download, for http(s) URLs) a model file into ``model_dir``.

    Official files are recognised by sha256 and installed under their
    official name. A file with an official size but another checksum, or one
    that cannot be read as a Wav2Lip checkpoint, is refused. A custom
    fine-tune (loadable, unknown checksum) is installed under ``name`` or its
    own file name and reported as not official. A copy of the random test
    checkpoint is always installed under its own name, whatever it is called,
    so that it is labelled as such; installing any other Wav2Lip removes it.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    src = str(source)
    if src.startswith(("http://", "https://")):
        tmp = _fetch(src, model_dir)
        src_name = Path(src.split("?")[0]).name
    else:
        path = Path(src)
        if not path.is_file():
            raise ModelNotInstalled(f"File not found: {path}")
        tmp = model_dir / f".install.{uuid.uuid4().hex}.part"
        shutil.copyfile(path, tmp)
        src_name = path.name
    try:
        sha = file_sha256(tmp)
        known = _known(sha)
        if known is None:
            info = identify(tmp, sha256=sha)  # raises on official size + wrong checksum
            for k in KNOWN_FILES:
                if src_name == k.name:
                    raise CheckpointCorrupt(
                        f"{src_name} does not match the published file ({info.size:,} bytes, "
                        f"expected {k.size:,}): the download is truncated or corrupt."
                    )
            if src_name == S3FD_FILENAME:
                raise CheckpointCorrupt(f"{src_name} does not match the published detector file.")
            from .checkpoint import build_model, read_checkpoint

            state_dict, marked_test = read_checkpoint(tmp)
            build_model(state_dict)  # refuses anything that is not a Wav2Lip
            kind, final_name = "wav2lip", TEST_CHECKPOINT_NAME if marked_test else (name or src_name)
        else:
            kind, final_name = known.kind, known.name
        if not final_name.endswith(".pth"):
            raise CheckpointError("The installed file name must end with .pth")
        dest = model_dir / final_name
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    test_model = is_test_checkpoint(dest)
    removed = kind == "wav2lip" and not test_model and _remove_test_checkpoint(model_dir)
    return InstallInfo(dest, final_name, sha, dest.stat().st_size, known is not None, kind, test_model, removed)


def _remove_test_checkpoint(model_dir: Path) -> bool:
    """Drop the random test checkpoint once a real one is installed, so that
    nothing can fall back to it later."""
    test = model_dir / TEST_CHECKPOINT_NAME
    if not test.is_file():
        return False
    test.unlink()
    return True


def install_test_checkpoint(model_dir: str | os.PathLike) -> InstallInfo:
    """Write a randomly initialised Wav2Lip in the official file format
    (``module.``-prefixed keys under ``state_dict``) as the test model.

    It loads and renders like the real weights, so the whole pipeline can be
    checked before they arrive, but its mouth is noise. It is marked inside
    the file and named :data:`TEST_CHECKPOINT_NAME`, which every page,
    manifest and render log reports; a real checkpoint is always preferred.
    """
    import torch

    from .model import Wav2Lip

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state_dict = {f"module.{k}": v for k, v in Wav2Lip().state_dict().items()}
    blob = {"state_dict": state_dict, "optimizer": {}, "global_step": 0, "global_epoch": 0, TEST_MARKER_KEY: True}
    tmp = model_dir / f".install.{uuid.uuid4().hex}.part"
    dest = model_dir / TEST_CHECKPOINT_NAME
    try:
        torch.save(blob, tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return InstallInfo(dest, TEST_CHECKPOINT_NAME, file_sha256(dest), dest.stat().st_size, False, "wav2lip", True)


@dataclass(frozen=True)
class Installed:
    model_dir: Path
    wav2lip: Path | None  # the checkpoint to use (gan preferred), None if none
    wav2lip_official: bool
    s3fd: Path | None
    checkpoints: tuple[Path, ...]  # every .pth that is not the detector

    @property
    def ready(self) -> bool:
        return self.wav2lip is not None

    @property
    def test_model(self) -> bool:
        """The checkpoint in use is the random test one (by name: no torch needed)."""
        return self.wav2lip is not None and is_test_checkpoint(self.wav2lip)

    def to_dict(self) -> dict:
        return {
            "model_dir": str(self.model_dir),
            "wav2lip": str(self.wav2lip) if self.wav2lip else None,
            "wav2lip_official": self.wav2lip_official,
            "s3fd": str(self.s3fd) if self.s3fd else None,
            "checkpoints": [str(p) for p in self.checkpoints],
            "test_model": self.test_model,
        }


def find_installed(model_dir: str | os.PathLike, verify: bool = False) -> Installed:
    """Which Wav2Lip checkpoint is installed (gan preferred, the random test
    checkpoint only when there is no other) and whether S3FD is.

    Official names count as official by size; ``verify=True`` also hashes them
    (slow: 400 MB each).
    """
    base = Path(model_dir)
    files = sorted(p for p in base.glob("*.pth") if p.is_file()) if base.is_dir() else []
    checkpoints = tuple(p for p in files if p.name != S3FD_FILENAME)
    chosen, official = None, False
    for wanted in WAV2LIP_NAMES:
        p = base / wanted
        if p in checkpoints:
            known = next(k for k in KNOWN_FILES if k.name == wanted)
            ok = p.stat().st_size == known.size
            if ok and verify:
                ok = file_sha256(p) == known.sha256
            chosen, official = p, ok
            break
    if chosen is None and checkpoints:
        chosen = min(checkpoints, key=lambda p: (is_test_checkpoint(p), p.name))
    s3fd = base / S3FD_FILENAME
    return Installed(base, chosen, official, s3fd if s3fd.is_file() else None, checkpoints)


__all__ = ["install_checkpoint", "install_test_checkpoint", "find_installed", "where_to_get_text", "InstallInfo", "Installed", "CheckpointInfo"]
