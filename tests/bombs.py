"""Resource bombs: small files that would cost hours or gigabytes to decode.

Each builder streams what it writes (nothing the size of the decoded media is
ever held in memory) and takes a second or two at most.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np


def silent_flac(path: str | Path, seconds: float = 10 * 3600, rate: int = 8000) -> Path:
    """``seconds`` of digital silence as FLAC: one reused block of 65535
    zero samples per frame, which FLAC stores as a few bytes."""
    import av

    block = 65535
    path = Path(path)
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, options={"frame_size": str(block), "compression_level": "0"})
        stream.layout = "mono"
        zeros = np.zeros((1, block), np.int16)
        total = int(seconds * rate)
        for start in range(0, total, block):
            n = min(block, total - start)
            frame = av.AudioFrame.from_ndarray(zeros[:, :n], format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def flat_png(path: str | Path, width: int, height: int) -> Path:
    """A black ``width`` x ``height`` PNG, compressed row block by row block."""
    path = Path(path)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(6)
    row = b"\x00" * (width + 1)  # filter byte, then black pixels
    rows_per_block = max(1, (1 << 22) // len(row))
    parts = []
    for top in range(0, height, rows_per_block):
        parts.append(compressor.compress(row * min(rows_per_block, height - top)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
    )
    return path


def tiny_video(
    path: str | Path,
    fps: Fraction | int,
    frames: int,
    size: tuple[int, int] = (64, 64),
    keyframe_interval: int = 250,
) -> Path:
    """``frames`` grey frames of ``size`` at ``fps`` (H.264 in MP4): a very
    low rate makes hours out of a few frames, a high one a fast clip."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as out:
        keys = f"keyint={keyframe_interval}:min-keyint={keyframe_interval}:scenecut=0"
        stream = out.add_stream("libx264", rate=Fraction(fps), options={"x264-params": keys})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        image = np.full((size[1], size[0], 3), 128, np.uint8)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            frame.time_base = 1 / Fraction(fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
