"""The worker's lip-sync engine, loaded once and kept between jobs."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from ml.errors import ModelNotInstalled
from ml.install import find_installed
from ml.settings import RenderSettings

if TYPE_CHECKING:  # the pipeline pulls in torch: only workers (which preload it) import it
    from ml.pipeline import LipSyncEngine
    from ml.settings import RenderResult

log = logging.getLogger(__name__)

_lock = threading.Lock()
_engine: LipSyncEngine | None = None
_engine_key: tuple | None = None

QUALITY_CRF = {"standard": 20, "high": 16}


def get_engine() -> LipSyncEngine:
    """The loaded engine; reloaded only when the installed files change."""
    global _engine, _engine_key
    installed = find_installed(settings.HEYGEM_MODEL_DIR)
    if not installed.ready:
        raise ModelNotInstalled()
    stat = installed.wav2lip.stat()
    key = (
        str(installed.wav2lip),
        stat.st_size,
        stat.st_mtime,
        installed.s3fd is not None,
        settings.HEYGEM_ENGINE_BACKEND,
        settings.HEYGEM_PRECISION,
    )
    with _lock:
        if _engine is None or key != _engine_key:
            from ml.pipeline import LipSyncEngine

            log.info("loading lip-sync engine from %s", installed.wav2lip)
            if installed.test_model:
                log.warning("the installed model is the random test checkpoint: its output is noise, not lip-sync")
            engine = LipSyncEngine(
                installed.wav2lip,
                device=settings.HEYGEM_DEVICE,
                detector="auto",
                model_dir=settings.HEYGEM_MODEL_DIR,
                backend=settings.HEYGEM_ENGINE_BACKEND,
                precision=settings.HEYGEM_PRECISION,
            )
            engine.warm_up(settings.HEYGEM_PRECISION)
            _engine, _engine_key = engine, key
        return _engine


def loaded_engine() -> LipSyncEngine | None:
    return _engine


def model_installed() -> bool:
    return find_installed(settings.HEYGEM_MODEL_DIR).ready


def test_model_installed() -> bool:
    """Renders use the random test checkpoint (told by its file name: the web
    process shows the banner without importing torch)."""
    return find_installed(settings.HEYGEM_MODEL_DIR).test_model


def uses_test_model(engine: LipSyncEngine) -> bool:
    return engine.checkpoint.test_model


def model_label(engine: LipSyncEngine) -> str:
    """What the ops page shows for a worker's loaded model."""
    if uses_test_model(engine):
        return "test model (noise)"
    return engine.model_name or "custom"


def model_facts(result: RenderResult) -> dict:
    """The manifest's "model": which checkpoint made this output, and whether
    it was the random test one (the engine that produced ``result``)."""
    engine = _engine
    test = engine is not None and engine.model_sha256 == result.model_sha256 and uses_test_model(engine)
    return {"sha256": result.model_sha256, "name": result.model_name, "test_model": test}


def engine_settings(values: dict) -> RenderSettings:
    """Platform render settings (forms, templates) -> the engine's."""
    quality = values.get("quality", "standard")
    return RenderSettings(
        pads=(
            int(values.get("pad_top", 0)),
            int(values.get("pad_bottom", 10)),
            int(values.get("pad_left", 0)),
            int(values.get("pad_right", 0)),
        ),
        blend=values.get("blend", "feather"),
        loop=values.get("loop", "pingpong"),
        lossless=quality == "lossless",
        quality=QUALITY_CRF.get(quality, 20),
        precision=settings.HEYGEM_PRECISION,
    )


def cache_dir(kind: str) -> Path:
    path = Path(settings.HEYGEM_CACHE_DIR) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
