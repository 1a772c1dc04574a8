"""Loading Wav2Lip checkpoints and recognising the official files by sha256."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CheckpointCorrupt, CheckpointError, ModelNotInstalled
from .hashing import file_sha256

if TYPE_CHECKING:  # torch is imported where a checkpoint is read: the web process only needs the table
    import torch

    from .model import Wav2Lip


@dataclass(frozen=True)
class KnownFile:
    name: str
    size: int
    sha256: str
    kind: str  # "wav2lip" or "s3fd"


KNOWN_FILES: tuple[KnownFile, ...] = (
    KnownFile(
        "wav2lip.pth",
        435_807_851,
        "b78b681b68ad9fe6c6fb1debc6ff43ad05834a8af8a62ffc4167b7b34ef63c37",
        "wav2lip",
    ),
    KnownFile(
        "wav2lip_gan.pth",
        435_801_865,
        "ca9ab7b7b812c0e80a6e70a5977c545a1e8a365a6c49d5e533023c034d7ac3d8",
        "wav2lip",
    ),
    KnownFile(
        "s3fd-619a316812.pth",
        89_843_225,
        "619a31681264d3f7f7fc7a16a42cbbe8b23f31a256f75a366e5a1bcd59b33543",
        "s3fd",
    ),
)
S3FD_FILENAME = "s3fd-619a316812.pth"

# A randomly initialised checkpoint (``install_models --test-checkpoint``) lets
# an admin check the whole pipeline before they have the real weights. It is
# recognised by this file name everywhere (the web process cannot open a
# checkpoint without torch), and the file itself also carries TEST_MARKER_KEY
# so that installing a copy under another name still installs it under this one.
TEST_CHECKPOINT_NAME = "wav2lip-TEST-random-weights.pth"
TEST_MARKER_KEY = "heygem_test_model"
TEST_MODEL_NOTE = "Test model: the mouth is noise, not lip-sync."


def is_test_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the random test checkpoint (by its file name)."""
    return Path(path).name == TEST_CHECKPOINT_NAME


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    size: int
    sha256: str
    known_as: str | None  # official file name, or None for a custom fine-tune

    @property
    def is_official(self) -> bool:
        return self.known_as is not None

    @property
    def test_model(self) -> bool:
        return is_test_checkpoint(self.path)


def identify(path: str | os.PathLike, sha256: str | None = None) -> CheckpointInfo:
    """Check a file against the table of official files.

    An unknown checksum is allowed (custom fine-tune) and reported as such; a
    file with exactly the size of an official file but another checksum is a
    damaged copy. Truncated downloads fail later, when the zip cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotInstalled(f"Model file not found: {p.name}", path=str(p))
    size = p.stat().st_size
    digest = sha256 or file_sha256(p)
    for known in KNOWN_FILES:
        if digest == known.sha256:
            return CheckpointInfo(p, size, digest, known.name)
    for known in KNOWN_FILES:
        if size == known.size:
            raise CheckpointCorrupt(
                f"{p.name} looks like {known.name} but its checksum does not match:"
                " the file is truncated or corrupt, download it again.",
                path=str(p),
                expected=known.sha256,
                got=digest,
            )
    return CheckpointInfo(p, size, digest, None)


def strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state_dict.items()}


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)[0]


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], bool]:
    """The state dict, and whether the file is marked as the random test checkpoint."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelNotInstalled(f"Model file not found: {Path(path).name}") from None
    except Exception as exc:  # pickle/zip errors: a damaged or foreign file
        raise CheckpointCorrupt(
            f"{Path(path).name} cannot be read as a PyTorch checkpoint"
            " (truncated, corrupt, or not a weights-only file).",
            reason=type(exc).__name__,
        ) from None
    test_model = isinstance(blob, dict) and blob.get(TEST_MARKER_KEY) is True
    if isinstance(blob, dict) and "state_dict" in blob:
        blob = blob["state_dict"]
    if not isinstance(blob, dict) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise CheckpointError(f"{Path(path).name} holds no state dict.")
    return strip_module_prefix(blob), test_model


def build_model(state_dict: dict[str, torch.Tensor]) -> Wav2Lip:
    """A Wav2Lip in eval mode with ``state_dict`` loaded strictly."""
    from .model import Wav2Lip

    model = Wav2Lip()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            "The checkpoint is not a Wav2Lip generator"
            f" ({len(missing)} missing, {len(unexpected)} unexpected,"
            f" {len(wrong)} wrongly shaped keys).",
            missing=missing[:5],
            unexpected=unexpected[:5],
            wrong_shape=wrong[:5],
        )
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def load_wav2lip(path: str | os.PathLike) -> tuple[Wav2Lip, CheckpointInfo]:
    info = identify(path)
    return build_model(read_state_dict(path)), info
