"""Shared fixtures for the engine tests: tiny media and a RANDOM checkpoint.

The checkpoint is randomly initialised: it exercises every code path but
makes no lip-sync; nothing here pretends it is a real model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import mediafactory as mf  # noqa: E402

FIXTURES = TESTS / "fixtures"


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def random_checkpoint(media) -> Path:
    return mf.make_random_checkpoint(media / "random_wav2lip.pth", seed=0, module_prefix=True)


@pytest.fixture(scope="session")
def compiled(media) -> Path:
    """One folder of compiled graphs for the whole session: the ONNX export of
    the random checkpoint (a few seconds) happens once."""
    return media / "compiled"


@pytest.fixture(scope="session")
def engines(random_checkpoint, compiled):
    """One loaded engine per backend, built on first use."""
    from ml.pipeline import LipSyncEngine

    made: dict[str, LipSyncEngine] = {}

    def get(backend: str) -> LipSyncEngine:
        if backend not in made:
            made[backend] = LipSyncEngine(
                random_checkpoint,
                device="cpu",
                detector="opencv",
                batch_size=8,
                backend=backend,
                compiled_dir=compiled,
            )
        return made[backend]

    return get


@pytest.fixture(scope="session")
def engine(engines):
    return engines("torch")



@pytest.fixture(scope="session")
def face_clip(media) -> Path:
    """1 s, 25 fps, 320x240: the astronaut moving and zooming; frames 10-12 blank."""
    return mf.make_face_clip(media / "face.mp4", seconds=1.0, fps=25, faceless_frames=range(10, 13))


@pytest.fixture(scope="session")
def speech_1s(media) -> Path:
    return mf.cut_audio(FIXTURES / "speech_en_16k.wav", media / "speech_1s.wav", 1.0)


@pytest.fixture(scope="session")
def speech_2s(media) -> Path:
    return mf.cut_audio(FIXTURES / "speech_en_16k.wav", media / "speech_2s.wav", 2.0)
