"""Preflight for voice recordings: will a render have a voice to follow?

Runs at upload in the web process, so the work is bounded: only the first
ANALYSED_SECONDS are decoded, as a stream (the engine's limit-aware decoder,
one frame at a time), and only running statistics are kept. Findings have the
same shape as the video preflight ({"code", "params"}); projects.preflight
.describe turns them into translated sentences.

Music is not detected: no cheap measure told music from speech reliably on
our samples (a chord and a voice both have a low spectral flatness), so a
wrong recording of music goes unflagged. Broadband noise (hiss, static, a
fan) is flat across the speech band and is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.audio import decode_mono
from ml.errors import CorruptMedia, NoAudioStream
from ml.limits import MediaLimits, MediaOverLimit
from projects.probe import ProbeError, _over_limit

ANALYSED_SECONDS = 120.0  # the first two minutes say enough, in about a second of decoding
WINDOW_SECONDS = 0.05
# No 50 ms window as loud as quiet speech; a peak below this level is one case of it.
SILENT_RMS_DBFS = -50.0
MIN_SECONDS = 0.5
ENGINE_MIN_SECONDS = 0.2  # ml.audio refuses shorter audio
LONG_SECONDS = 20 * 60
# Full scale: 16-bit maximum and clipped floats, not a limiter's -0.1 dBFS ceiling.
CLIP_LEVEL = 0.999
CLIPPED_SHARE = 0.001  # a normalised recording touches full scale a few times, a clipped one often
# Spectral flatness (100 Hz - 4 kHz) of the sounding windows: speech, even
# with audible hiss, stays under 0.15; white and pink noise are above 0.35.
NOISE_FLATNESS = 0.3
NOISE_BAND = (100.0, 4000.0)


@dataclass
class _Levels:
    """Running statistics over the decoded samples."""

    rate: int
    samples: int = 0
    peak: float = 0.0
    clipped: int = 0
    loudest_rms: float = 0.0
    sounding: int = 0  # windows loud enough to be judged as voice or noise
    noisy: int = 0

    def add_samples(self, chunk: np.ndarray) -> None:
        magnitude = np.abs(chunk)
        self.samples += len(chunk)
        self.peak = max(self.peak, float(magnitude.max()))
        self.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))

    def add_windows(self, windows: np.ndarray) -> None:
        """Whole windows (rows): loudness and, for the sounding ones, flatness."""
        rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1))
        self.loudest_rms = max(self.loudest_rms, float(rms.max()))
        sounding = windows[rms >= _amplitude(SILENT_RMS_DBFS)]
        if not len(sounding):
            return
        size = sounding.shape[1]
        power = np.abs(np.fft.rfft(sounding * np.hanning(size), axis=1)) ** 2 + 1e-12
        freqs = np.fft.rfftfreq(size, 1 / self.rate)
        band = power[:, (freqs >= NOISE_BAND[0]) & (freqs <= NOISE_BAND[1])]
        if not band.shape[1]:
            return
        flatness = np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)
        self.sounding += len(sounding)
        self.noisy += int(np.count_nonzero(flatness >= NOISE_FLATNESS))


def check_audio(path: Path, duration: float | None, limits: MediaLimits) -> list[dict]:
    """Findings for a voice recording whose probe gave ``duration`` seconds."""
    levels = _measure(path, limits)
    analysed = levels.samples / levels.rate
    seconds = duration if duration is not None else analysed
    findings: list[dict] = []
    if seconds < MIN_SECONDS:
        findings.append({"code": "audio_too_short", "params": {"seconds": round(seconds, 2)}})
    if levels.loudest_rms < _amplitude(SILENT_RMS_DBFS):
        params = {"peak_db": _dbfs(levels.peak)}
        if seconds > analysed + 1:
            params["analysed"] = round(analysed)
        findings.append({"code": "audio_silent", "params": params})
    elif levels.sounding and levels.noisy > levels.sounding / 2:
        findings.append({"code": "audio_noise", "params": {}})
    if levels.samples and levels.clipped / levels.samples >= CLIPPED_SHARE:
        findings.append(
            {"code": "audio_clipping", "params": {"percent": round(100 * levels.clipped / levels.samples, 1)}}
        )
    if seconds > LONG_SECONDS:
        findings.append({"code": "audio_long", "params": {"seconds": round(seconds)}})
    return findings


def _measure(path: Path, limits: MediaLimits) -> _Levels:
    levels: _Levels | None = None
    pending: list[np.ndarray] = []
    pending_len = taken = window = budget = 0
    try:
        for chunk, rate in decode_mono(path, limits):
            if levels is None:
                levels = _Levels(rate=rate)
                window = max(1, round(rate * WINDOW_SECONDS))
                budget = int(ANALYSED_SECONDS * rate)
            chunk = chunk[: budget - taken]
            taken += len(chunk)
            pending.append(chunk)
            pending_len += len(chunk)
            # About a second at a time: numpy per decoded frame (a few ms) costs more than the decoding.
            if pending_len >= 20 * window:
                rest = _feed_windows(levels, np.concatenate(pending), window)
                pending, pending_len = [rest], len(rest)
            if taken >= budget:
                break
    except (CorruptMedia, NoAudioStream) as exc:
        raise ProbeError("corrupt", str(exc)) from None
    except MediaOverLimit as over:  # the stated duration was short of the real one
        raise _over_limit(over) from None
    if levels is None or not taken:
        raise ProbeError("corrupt", "no audio samples decoded")
    rest = _feed_windows(levels, np.concatenate(pending), window)
    if len(rest):
        levels.add_samples(rest)
        if not levels.loudest_rms:  # shorter than one window: judge it whole
            levels.add_windows(rest.reshape(1, -1))
    return levels


def _feed_windows(levels: _Levels, samples: np.ndarray, window: int) -> np.ndarray:
    """Feeds the whole windows of ``samples`` to ``levels``; returns the rest."""
    whole = len(samples) // window * window
    if whole:
        levels.add_samples(samples[:whole])
        levels.add_windows(samples[:whole].reshape(-1, window))
    return samples[whole:]


def _amplitude(dbfs: float) -> float:
    return 10 ** (dbfs / 20)


def _dbfs(amplitude: float) -> float | None:
    """Decibels below full scale; None for digital silence (JSON has no infinity)."""
    return round(20 * math.log10(amplitude), 1) if amplitude > 0 else None
