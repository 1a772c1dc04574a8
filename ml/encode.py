"""Video output: one H.264 encode with the original audio muxed in.

The file is written to a hidden temporary name in the output's directory and
renamed into place only when complete; on any error the partial file is
deleted. Everything goes through PyAV: no shell, no fixed temp paths.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import NoAudioStream, OutputError

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def partial_path(outfile: Path) -> Path:
    return outfile.with_name(f".{outfile.stem}.{uuid.uuid4().hex[:12]}.partial{outfile.suffix}")


class AudioTrack:
    """Streams the source audio into the output, re-encoded once (AAC or FLAC)."""

    def __init__(self, container, source: Path, codec: str) -> None:
        import av

        try:
            self._in = av.open(str(source))
        except av.FFmpegError:
            raise NoAudioStream(f"{source.name} cannot be opened for its audio.") from None
        if not self._in.streams.audio:
            self._in.close()
            raise NoAudioStream(f"{source.name} has no audio track.")
        ist = self._in.streams.audio[0]
        rate = ist.codec_context.sample_rate or 48000
        if codec == "aac" and rate not in (
            8000,
            11025,
            12000,
            16000,
            22050,
            24000,
            32000,
            44100,
            48000,
            64000,
            88200,
            96000,
        ):
            rate = 48000
        channels = ist.codec_context.channels or 1
        layout = "mono" if channels == 1 else "stereo"
        self.stream = container.add_stream(codec, rate=rate)
        self.stream.layout = layout
        if codec == "aac":
            self.stream.bit_rate = 192_000 if layout == "stereo" else 128_000
        fmt = self.stream.codec_context.codec.audio_formats[0].name
        self._resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        self._decoder = self._in.decode(ist)
        self._container = container
        self.time = 0.0  # seconds of audio muxed so far
        self._done = False
        self._flushed = False
        self._samples = 0

    def mux_until(self, seconds: float | None) -> None:
        """Mux audio up to ``seconds`` (None: all of it), for interleaving."""
        import av

        while not self._done and (seconds is None or self.time < seconds):
            try:
                frame = next(self._decoder)
            except StopIteration:
                frame = None
            except av.FFmpegError:  # a damaged tail: keep what decoded
                frame = None
            if frame is None:
                self._done = True
                frames = self._resampler.resample(None)
            else:
                frames = self._resampler.resample(frame)
            for f in frames:
                # Explicit timestamps let the muxer signal the encoder delay
                # (AAC priming) in an edit list, so the audio is not shifted.
                f.pts = self._samples
                f.time_base = Fraction(1, f.sample_rate)
                self._samples += f.samples
                self.time += f.samples / f.sample_rate
                for pkt in self.stream.encode(f):
                    self._container.mux(pkt)
        if self._done and not self._flushed:
            self._flushed = True
            for pkt in self.stream.encode(None):
                self._container.mux(pkt)

    def close(self) -> None:
        self._in.close()


class VideoWriter:
    """Encodes BGR frames at an exact rational ``fps`` into a temp file."""

    def __init__(
        self,
        outfile: str | os.PathLike,
        width: int,
        height: int,
        fps: Fraction,
        audio_source: str | os.PathLike | None,
        crf: int = 18,
        preset: str = "veryfast",
        lossless: bool = False,
        threads: int = 0,
        color_tags: dict | None = None,
    ) -> None:
        import av

        self.outfile = Path(outfile)
        suffix = self.outfile.suffix.lower()
        if suffix not in CONTAINERS:
            raise OutputError(f"Unsupported output type {suffix or '(none)'}: use .mp4, .mov or .mkv.")
        if not self.outfile.parent.is_dir():
            raise OutputError(f"The output folder does not exist: {self.outfile.parent}")
        self.tmp = partial_path(self.outfile)
        self.fps = Fraction(fps)
        self.frames = 0
        self._closed = False
        options = {"movflags": "+faststart"} if CONTAINERS[suffix] in ("mp4", "mov") else {}
        try:
            self._out = av.open(str(self.tmp), "w", format=CONTAINERS[suffix], options=options)
        except av.FFmpegError as exc:
            raise OutputError(f"The output file cannot be created ({exc.strerror}).") from None
        try:
            if lossless:
                # libx264rgb at CRF 0: bit-exact BGR, no 4:2:0 chroma loss.
                self.stream = self._out.add_stream("libx264rgb", rate=self.fps)
                self.stream.pix_fmt = "bgr24"
                self.stream.options = {"crf": "0", "preset": preset}
                self._fmt = "bgr24"
            else:
                self.stream = self._out.add_stream("libx264", rate=self.fps)
                self.stream.pix_fmt = "yuv420p"
                self.stream.options = {"crf": str(int(crf)), "preset": preset}
                self._fmt = "yuv420p"
            self.stream.width, self.stream.height = width - width % 2, height - height % 2
            self.stream.codec_context.time_base = 1 / self.fps
            if threads:
                self.stream.codec_context.thread_count = threads
            if not lossless:
                # Same YUV values as the source: keep its colour tags so players
                # show it the same way.
                unspecified = {"color_range": 0}  # the others use 2 for "unspecified"
                for name, value in (color_tags or {}).items():
                    if value is not None and value != unspecified.get(name, 2):
                        try:
                            setattr(self.stream.codec_context, name, value)
                        except (AttributeError, TypeError, ValueError):
                            pass
            self.audio = None
            if audio_source is not None:
                codec = "flac" if (lossless and suffix == ".mkv") else "aac"
                self.audio = AudioTrack(self._out, Path(audio_source), codec)
        except BaseException:
            self.abort()
            raise

    def write(self, frame: np.ndarray) -> None:
        import av

        h, w = self.stream.height, self.stream.width
        if frame.shape[0] != h or frame.shape[1] != w:
            frame = frame[:h, :w]
        if self._fmt == "yuv420p":
            import cv2

            # The inverse of the decoder's conversion (see video.to_bgr).
            yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2YUV_I420)
            vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        else:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        vf.pts = self.frames
        vf.time_base = self.stream.codec_context.time_base
        for pkt in self.stream.encode(vf):
            self._out.mux(pkt)
        self.frames += 1
        if self.audio is not None and self.frames % 8 == 0:
            self.audio.mux_until(float(self.frames / self.fps) + 0.5)

    def finish(self) -> Path:
        """Flush, close and move the file into place; returns the final path."""
        try:
            for pkt in self.stream.encode(None):
                self._out.mux(pkt)
            if self.audio is not None:
                self.audio.mux_until(None)
                self.audio.close()
            self._out.close()
            self._closed = True
            os.replace(self.tmp, self.outfile)
        except BaseException:
            self.abort()
            raise
        return self.outfile

    def abort(self) -> None:
        """Close and delete the partial file (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                if getattr(self, "audio", None) is not None:
                    self.audio.close()
            except Exception:
                pass
            try:
                self._out.close()
            except Exception:
                pass
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass
