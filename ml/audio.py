"""Audio: decode any format to 16 kHz mono, the Wav2Lip mel, and chunk indices.

Decoding uses PyAV (ffmpeg), so wav, mp3, m4a/aac, ogg/opus, flac and the
audio track of a video all work. Channels are averaged to mono at the native
rate, then resampled to 16 kHz with soxr "HQ" (the same resampler current
librosa uses by default, ``soxr_hq``). Decoding, resampling and the mel run
as one stream, so memory does not grow with the duration (only the mel does).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import AudioTooShort, CorruptMedia, NoAudioStream, RenderCancelled, SilentAudio
from .hashing import file_sha256
from .limits import NO_LIMITS, MediaLimits, MediaOverLimit, metadata_seconds

SAMPLE_RATE = 16000
HOP = 200
N_FFT = 800
N_MELS = 80
MEL_FPS = SAMPLE_RATE // HOP  # 80 mel frames per second
MEL_STEP = 16  # mel frames per video-frame chunk (200 ms)
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS = 4.0
SILENCE_PEAK = 10 ** (-60 / 20)  # peak below -60 dBFS counts as silence
RESAMPLER = "soxr HQ"


def _decode_native(
    path: str | os.PathLike, should_stop: Callable[[], bool] | None, limits: MediaLimits
) -> Iterator[tuple[np.ndarray, int]]:
    """The first audio stream as mono float32 chunks at its native rate, one
    decoded frame at a time (chunk, rate).

    Channels are averaged at the native rate (as the reference's
    ``librosa.load``). The encoder's end padding past the stated length (AAC,
    MP3 frames) is dropped. The stated duration is checked against the limit
    before decoding, the decoded one while decoding; ``should_stop`` is polled
    for every frame (a few ms of audio).
    """
    import av

    name = Path(path).name
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise CorruptMedia(f"Audio file not found: {name}") from None
    except av.FFmpegError:
        raise CorruptMedia(f"{name} is not a readable audio file.") from None
    with container:
        if not container.streams.audio:
            raise NoAudioStream(f"{name} has no audio track.")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        limits.check_duration(name, metadata_seconds(container, stream))
        resampler = None
        rate = 0
        stated: int | None = None
        allowed: int | None = None
        done = 0
        try:
            for frame in container.decode(stream):
                if should_stop is not None and should_stop():
                    raise RenderCancelled()
                if resampler is None:
                    rate = frame.sample_rate
                    # Planar float at the native rate; mixing to mono is ours.
                    resampler = av.AudioResampler(format="fltp", rate=rate)
                    if stream.duration and stream.time_base:
                        stated = int(round(stream.duration * stream.time_base * rate)) or None
                    allowed = limits.samples_allowed(rate)
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().mean(axis=0, dtype=np.float32)
                    if stated is not None:
                        chunk = chunk[: max(0, stated - done)]
                    done += len(chunk)
                    if allowed is not None and done > allowed:
                        raise MediaOverLimit(name, "duration", None, limits.max_seconds)
                    if len(chunk):
                        yield chunk, rate
                if stated is not None and done >= stated:
                    return  # the rest is the encoder's padding
            if resampler is not None:
                for out in resampler.resample(None):
                    chunk = out.to_ndarray().mean(axis=0, dtype=np.float32)
                    if stated is not None:
                        chunk = chunk[: max(0, stated - done)]
                    done += len(chunk)
                    if len(chunk):
                        yield chunk, rate
        except av.FFmpegError:
            if not done:
                raise CorruptMedia(f"The audio in {name} cannot be decoded.") from None
    if not done:
        raise NoAudioStream(f"{name} has no decodable audio.")


def decode_mono(path: str | os.PathLike, limits: MediaLimits = NO_LIMITS) -> Iterator[tuple[np.ndarray, int]]:
    """The audio as mono float32 chunks at its native rate (chunk, rate), for
    level checks that resampling would blur (a clipped sample stays at full scale)."""
    return _decode_native(path, None, limits)


def stream_16k(
    path: str | os.PathLike,
    should_stop: Callable[[], bool] | None = None,
    limits: MediaLimits = NO_LIMITS,
) -> Iterator[np.ndarray]:
    """The audio as 16 kHz mono float32 chunks, resampled as it is decoded
    (soxr "HQ" streaming gives the same samples as one-shot resampling)."""
    resampler = None
    for chunk, rate in _decode_native(path, should_stop, limits):
        if rate == SAMPLE_RATE:
            yield chunk
            continue
        if resampler is None:
            import soxr

            resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        out = resampler.resample_chunk(chunk)
        if len(out):
            yield out
    if resampler is not None:
        out = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(out):
            yield out


def load_wav16k(path: str | os.PathLike) -> np.ndarray:
    """The whole audio at 16 kHz mono (short clips and tests; the engine streams)."""
    return np.concatenate(list(stream_16k(path)))


_MEL_BASIS: np.ndarray | None = None
_WINDOW: np.ndarray | None = None
_STFT_COLUMNS = (1 << 18) // (N_FFT * 4)  # librosa's MAX_MEM_BLOCK for float32 frames


# Slaney's mel scale (librosa's ``htk=False``): linear below 1 kHz, log above.
_MEL_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _MEL_F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    mels = hz / _MEL_F_SP
    log_t = hz >= _MIN_LOG_HZ
    mels[log_t] = _MIN_LOG_MEL + np.log(hz[log_t] / _MIN_LOG_HZ) / _LOGSTEP
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = _MEL_F_SP * mels
    log_t = mels >= _MIN_LOG_MEL
    hz[log_t] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mels[log_t] - _MIN_LOG_MEL))
    return hz


def mel_filterbank(fmin: float = 55.0, fmax: float = 7600.0) -> np.ndarray:
    """The reference's mel basis, ``librosa.filters.mel(sr=16000, n_fft=800,
    n_mels=80, fmin=55, fmax=7600)`` (Slaney scale, Slaney area
    normalisation), float32 (80, 401): the same operations in the same order,
    so the same bits (tests/ml/test_audio.py compares them with librosa's),
    without importing librosa, whose import (numba included) cost about 1.5 s
    of every start-up."""
    fftfreqs = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)
    edges = _hz_to_mel(np.array([fmin, fmax], np.float64))
    mel_f = _mel_to_hz(np.linspace(edges[0], edges[1], N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((N_MELS, 1 + N_FFT // 2), dtype=np.float32)
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, np.newaxis]
    return weights


def _mel_basis() -> np.ndarray:
    global _MEL_BASIS
    if _MEL_BASIS is None:
        _MEL_BASIS = mel_filterbank()
    return _MEL_BASIS


def _hann_periodic(n: int) -> np.ndarray:
    """``scipy.signal.get_window("hann", n, fftbins=True)``, float64, by the
    same operations (scipy.signal's import alone costs about 0.7 s)."""
    fac = np.linspace(-np.pi, np.pi, n + 1, dtype=np.float64)
    w = np.zeros(n + 1, dtype=np.float64)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    return w[:-1]


def preemphasis(wav: np.ndarray, carry: float = 0.0) -> tuple[np.ndarray, float]:
    """``scipy.signal.lfilter([1, -0.97], [1], wav, zi=[carry])`` in float64:
    y[n] = x[n] - 0.97 x[n-1], the same numbers (one multiply and one add per
    sample, in lfilter's order). Returns y and the carry for the next chunk."""
    x = np.asarray(wav, dtype=np.float64)
    y = x.copy()
    y[0] = carry + x[0]
    y[1:] = -PREEMPHASIS * x[:-1] + x[1:]
    return y, float(-PREEMPHASIS * x[-1])


def stft_magnitude(y: np.ndarray) -> np.ndarray:
    """``np.abs(librosa.stft(y, n_fft=800, hop_length=200, win_length=800,
    center=False))`` for float32 ``y``, bit for bit and without librosa: a
    periodic Hann window in float64, numpy's FFT on blocks of columns, a
    complex64 Fortran-order result (the mel product then sums in the same
    order)."""
    global _WINDOW
    if _WINDOW is None:
        _WINDOW = _hann_periodic(N_FFT).reshape(-1, 1)
    y = np.asarray(y)
    if y.dtype != np.float32:
        raise TypeError("stft_magnitude takes float32 samples")
    n = 1 + (len(y) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP].T  # (800, n), a view
    spec = np.zeros((1 + N_FFT // 2, n), dtype=np.complex64, order="F")
    for start in range(0, n, _STFT_COLUMNS):
        stop = min(start + _STFT_COLUMNS, n)
        spec[:, start:stop] = np.fft.rfft(_WINDOW * frames[:, start:stop], axis=-2)
    return np.abs(spec)


class MelStream:
    """The reference's normalised mel, computed block by block as 16 kHz audio
    arrives: memory holds one block (``BLOCK`` frames, 25 s) plus the result.

    Per frame the arithmetic is the reference's: pre-emphasis (a streamed
    ``lfilter``, same numbers), the centred STFT with reflect padding (the
    padding is added here, each block framed with ``center=False``: the same
    frames, bit for bit), mel, dB, normalise. Only the mel product's
    summation order may differ in the last bit between block sizes (BLAS
    blocking), so blocks always start at multiples of ``BLOCK`` frames and a
    clip of up to ``BLOCK`` frames is one block, as before.
    """

    BLOCK = 2000
    HALF = N_FFT // 2

    def __init__(self) -> None:
        self.samples = 0
        self._zi = 0.0  # the pre-emphasis carried into the next chunk
        self._pending: list[np.ndarray] = []  # emphasised samples not yet framed
        self._pending_len = 0
        self._started = False  # the front reflect padding is in place
        self._blocks: list[np.ndarray] = []

    def feed(self, wav: np.ndarray) -> None:
        if not len(wav):
            return
        emphasised, self._zi = preemphasis(wav, self._zi)
        self._pending.append(emphasised.astype(np.float32))
        self._pending_len += len(wav)
        self.samples += len(wav)
        if self._pending_len >= self.BLOCK * HOP + N_FFT:
            self._frame(final=False)

    def finish(self) -> np.ndarray:
        """The mel (80, 1 + samples // 200)."""
        if self.samples <= self.HALF:
            raise AudioTooShort()
        self._frame(final=True)
        return np.concatenate(self._blocks, axis=1) if len(self._blocks) > 1 else self._blocks[0]

    def _frame(self, final: bool) -> None:
        buf = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        if not self._started:
            if len(buf) <= self.HALF and not final:
                return
            buf = np.concatenate([buf[1 : self.HALF + 1][::-1], buf])  # reflect: y[400] .. y[1]
            self._started = True
        if final:
            buf = np.concatenate([buf, buf[-self.HALF - 1 : -1][::-1]])  # reflect: y[-2] .. y[-401]
        available = (len(buf) - N_FFT) // HOP + 1 if len(buf) >= N_FFT else 0
        while available >= self.BLOCK or (final and available > 0):
            count = min(available, self.BLOCK)
            self._blocks.append(_mel_frames(buf[: (count - 1) * HOP + N_FFT]))
            buf = buf[count * HOP :]
            available -= count
        self._pending = [buf]
        self._pending_len = len(buf)


def _mel_frames(padded: np.ndarray) -> np.ndarray:
    mel = _mel_basis() @ stft_magnitude(padded)
    db = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    norm = (2 * MAX_ABS) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS
    return np.clip(norm, -MAX_ABS, MAX_ABS).astype(np.float32)


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """The reference's normalised mel (80, 1 + len(wav) // 200), values in [-4, 4]."""
    stream = MelStream()
    stream.feed(wav)
    return stream.finish()


def reference_frame_count(n_mel: int, fps: Fraction | float) -> int:
    """Frames the reference makes: ``ceil((T - 15) * fps / 80) + 1``."""
    if n_mel < MEL_STEP:
        return 0
    return math.ceil(Fraction(n_mel - (MEL_STEP - 1)) * Fraction(fps) / MEL_FPS) + 1


def output_frame_count(n_samples: int, n_mel: int, fps: Fraction | float) -> int:
    """Frames covering the whole audio: the output lasts as long as the audio
    (within one frame), never fewer frames than the reference would make."""
    fps = Fraction(fps)
    covering = math.ceil(Fraction(n_samples) * fps / SAMPLE_RATE)
    return max(covering, reference_frame_count(n_mel, fps))


def mel_chunk_starts(n_mel: int, fps: Fraction | float, n_frames: int | None = None) -> np.ndarray:
    """Start column of the mel chunk for each video frame.

    The reference rule: ``start = int(i * 80 / fps)``, and the first frame
    whose chunk would run past the end takes ``mel[:, T-16:]`` and is the last.
    Equivalently ``min(int(i * 80 / fps), T - 16)``; with ``n_frames`` larger
    than the reference count, the extra trailing frames keep that last chunk.
    """
    fps = Fraction(fps)
    if n_mel < MEL_STEP:
        raise AudioTooShort()
    count = reference_frame_count(n_mel, fps) if n_frames is None else n_frames
    # Exact rational floor: int(i * 80 / fps) with fps = p/q is (i*80*q) // p.
    i = np.arange(count, dtype=np.int64)
    starts = (i * MEL_FPS * fps.denominator) // fps.numerator
    return np.minimum(starts, n_mel - MEL_STEP)


def mel_chunks(mel: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(len(starts), 80, 16) chunks, a view-free copy for batching."""
    idx = starts[:, None] + np.arange(MEL_STEP)[None, :]
    return np.ascontiguousarray(mel[:, idx].transpose(1, 0, 2))


def _check_usable(samples: int, peak: float) -> None:
    if samples < (MEL_STEP - 1) * HOP:  # fewer than 16 mel frames
        raise AudioTooShort(f"The audio is too short ({samples / SAMPLE_RATE:.2f} s): at least 0.2 seconds are needed.")
    if peak < SILENCE_PEAK:
        raise SilentAudio()


@dataclass
class AudioFeatures:
    """The mel of one audio file: computed once, reusable for many videos."""

    mel: np.ndarray  # (80, T) float32
    samples: int  # number of 16 kHz samples
    sha256: str  # of the source file
    source: str = ""  # path of the source file (muxed into outputs)
    peak: float = 1.0  # peak absolute amplitude of the 16 kHz signal

    @property
    def duration(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def n_mel(self) -> int:
        return int(self.mel.shape[1])

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        sha256: str | None = None,
        should_stop: Callable[[], bool] | None = None,
        limits: MediaLimits = NO_LIMITS,
    ) -> AudioFeatures:
        """Decode, resample and compute the mel as one stream: memory holds a
        decoded frame and a mel block besides the mel itself, whatever the
        duration. ``should_stop`` is polled every few ms of work; when it
        returns True (or raises), the work stops with :class:`RenderCancelled`.
        Audio over ``limits`` is refused before decoding when its metadata
        says so, else as soon as the decoded length passes the limit."""
        mel = MelStream()
        peak = 0.0
        for chunk in stream_16k(path, should_stop, limits):
            peak = max(peak, float(np.max(np.abs(chunk))))
            mel.feed(chunk)
        _check_usable(mel.samples, peak)
        if should_stop is not None and should_stop():
            raise RenderCancelled()
        return cls(mel.finish(), mel.samples, sha256 or file_sha256(path), str(path), peak)

    @classmethod
    def from_samples(cls, wav: np.ndarray, sha256: str = "", source: str = "") -> AudioFeatures:
        peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
        _check_usable(len(wav), peak)
        return cls(melspectrogram(wav), len(wav), sha256, source, peak)

    def save(self, path: str | os.PathLike) -> Path:
        """Write as .npz (atomically)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            mel=self.mel,
            samples=np.int64(self.samples),
            sha256=np.str_(self.sha256),
            source=np.str_(self.source),
            peak=np.float64(self.peak),
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> AudioFeatures:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                mel=z["mel"].astype(np.float32),
                samples=int(z["samples"]),
                sha256=str(z["sha256"]),
                source=str(z["source"]),
                peak=float(z["peak"]),
            )
