"""Audio: decode any format to 16 kHz mono, the Wav2Lip mel, and chunk indices.

Decoding uses PyAV (ffmpeg), so wav, mp3, m4a/aac, ogg/opus, flac and the
audio track of a video all work. Channels are averaged to mono at the native
rate, then resampled to 16 kHz with soxr "HQ" (the same resampler current
librosa uses by default, ``soxr_hq``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import AudioTooShort, CorruptMedia, NoAudioStream, SilentAudio
from .hashing import file_sha256

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


def decode_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode the first audio stream to mono float32 at its native rate."""
    import av

    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise CorruptMedia(f"Audio file not found: {Path(path).name}") from None
    except av.FFmpegError:
        raise CorruptMedia(f"{Path(path).name} is not a readable audio file.") from None
    with container:
        if not container.streams.audio:
            raise NoAudioStream(f"{Path(path).name} has no audio track.")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        chunks: list[np.ndarray] = []
        rate = 0
        resampler = None
        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = frame.sample_rate
                    # Planar float at the native rate; mixing to mono is ours
                    # (mean of channels, as the reference's librosa.load).
                    resampler = av.AudioResampler(format="fltp", rate=rate)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
            if resampler is not None:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
        except av.FFmpegError:
            if not chunks:
                raise CorruptMedia(f"The audio in {Path(path).name} cannot be decoded.") from None
    if not chunks:
        raise NoAudioStream(f"{Path(path).name} has no decodable audio.")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if stream.duration and stream.time_base:
        # Drop the encoder's end padding (AAC, MP3 frames) past the stated length.
        stated = int(round(stream.duration * stream.time_base * rate))
        if 0 < stated < len(samples):
            samples = samples[:stated]
    return samples, rate


def resample_to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)


def load_wav16k(path: str | os.PathLike) -> np.ndarray:
    samples, rate = decode_audio(path)
    return resample_to_16k(samples, rate)


_MEL_BASIS: np.ndarray | None = None


def _mel_basis() -> np.ndarray:
    global _MEL_BASIS
    if _MEL_BASIS is None:
        import librosa

        _MEL_BASIS = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=55, fmax=7600).astype(
            np.float32
        )
    return _MEL_BASIS


def melspectrogram(wav: np.ndarray) -> np.ndarray:
    """The reference's normalised mel (80, 1 + len(wav) // 200), values in [-4, 4]."""
    import librosa
    from scipy.signal import lfilter

    emphasised = lfilter([1.0, -PREEMPHASIS], [1.0], wav.astype(np.float64))
    spec = librosa.stft(
        y=emphasised.astype(np.float32),
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=N_FFT,
        center=True,
        pad_mode="reflect",  # the reference (librosa <= 0.8) padded by reflection
    )
    mel = _mel_basis() @ np.abs(spec)
    db = 20.0 * np.log10(np.maximum(1e-5, mel)) - REF_LEVEL_DB
    norm = (2 * MAX_ABS) * ((db - MIN_LEVEL_DB) / -MIN_LEVEL_DB) - MAX_ABS
    return np.clip(norm, -MAX_ABS, MAX_ABS).astype(np.float32)


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
    def from_file(cls, path: str | os.PathLike, sha256: str | None = None) -> AudioFeatures:
        wav = load_wav16k(path)
        feats = cls.from_samples(wav, sha256 or file_sha256(path), str(path))
        return feats

    @classmethod
    def from_samples(cls, wav: np.ndarray, sha256: str = "", source: str = "") -> AudioFeatures:
        if len(wav) < (MEL_STEP - 1) * HOP:  # fewer than 16 mel frames
            raise AudioTooShort(
                f"The audio is too short ({len(wav) / SAMPLE_RATE:.2f} s): at least 0.2 seconds are needed."
            )
        peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
        if peak < SILENCE_PEAK:
            raise SilentAudio()
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
