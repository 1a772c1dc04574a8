"""Render settings, progress reports and results (plain, JSON-friendly data)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

BLENDS = ("feather", "none")
LOOPS = ("pingpong", "forward")
PRECISIONS = ("fp32", "fp16", "bf16")
PRESETS = ("auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")


@dataclass(frozen=True)
class RenderSettings:
    """How to render one video. Stored by the platform as a plain dict."""

    pads: tuple[int, int, int, int] = (0, 10, 0, 0)  # top, bottom, left, right (pixels)
    box: tuple[int, int, int, int] | None = None  # fixed y1, y2, x1, x2: no detection
    blend: str = "feather"  # "feather": lower-face mask; "none": whole box (reference)
    loop: str = "pingpong"  # audio longer than video: "pingpong" or "forward" (reference)
    lossless: bool = False  # libx264rgb CRF 0 instead of yuv420p at ``quality``
    quality: int = 18  # x264 CRF (0 best .. 51 worst)
    # x264 preset. "auto": superfast when the model runs on the CPU (encoding
    # then competes with inference for the same cores), veryfast on a GPU.
    preset: str = "auto"
    resize_factor: int = 1  # divide the video resolution (reference --resize_factor)
    detect_size: int = 384  # longer side of the frames given to the detector (0: full size)
    key_interval: int = 5  # detect every n-th frame, interpolate between
    # Adaptive key frames: detect every key_span-th frame first and the key
    # frames in between only where the boxes differ (<= key_interval: off).
    key_span: int = 20
    smooth_window: int = 5  # centred moving average over this many frames (1: none)
    image_fps: int = 25  # frame rate when the face is a still image
    # Network precision: "fp32" (the reference), or opt-in "fp16" (GPU) or
    # "bf16" (GPU, or a CPU with bf16 instructions); torch backend only,
    # fp32 where the device lacks it (the render log says so): docs/engine.md.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        def ints(value: Any, n: int, name: str) -> tuple[int, ...]:
            try:
                out = tuple(int(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be {n} integers") from None
            if len(out) != n:
                raise ValueError(f"{name} must be {n} integers")
            return out

        object.__setattr__(self, "pads", ints(self.pads, 4, "pads"))
        if self.box is not None:
            box = ints(self.box, 4, "box")
            if box[0] >= box[1] or box[2] >= box[3] or min(box) < 0:
                raise ValueError("box must be y1 < y2 and x1 < x2, all >= 0")
            object.__setattr__(self, "box", box)
        if self.blend not in BLENDS:
            raise ValueError(f"blend must be one of {BLENDS}")
        if self.loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}")
        if not 0 <= int(self.quality) <= 51:
            raise ValueError("quality (CRF) must be between 0 and 51")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}")
        for name, low in (
            ("resize_factor", 1),
            ("detect_size", 0),
            ("key_interval", 1),
            ("key_span", 0),
            ("smooth_window", 1),
            ("image_fps", 1),
        ):
            if int(getattr(self, name)) < low:
                raise ValueError(f"{name} must be >= {low}")
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["pads"] = list(self.pads)
        d["box"] = list(self.box) if self.box is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        if "fp16" in data and "precision" not in data:  # written before precisions had names
            data = {**data, "precision": "fp16" if data["fp16"] else "fp32"}
            del data["fp16"]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown render settings: {sorted(unknown)}")
        return cls(**data)

    def detection_key(self) -> dict[str, Any]:
        """The settings a cached face track depends on."""
        return {
            "detect_size": self.detect_size,
            "key_interval": self.key_interval,
            # the track from adaptive key frames can differ slightly: its own entry
            "key_span": self.key_span if self.key_span >= 2 * self.key_interval else 0,
            "resize_factor": self.resize_factor,
        }


@dataclass(frozen=True)
class Progress:
    stage: str  # "audio" (reading an audio file given as a path), "detect", "infer" or "encode"
    done: int  # frames done in this stage
    total: int  # frames in this stage
    fps: float  # frames per second in this stage so far
    eta: float | None  # seconds left in this stage (None if unknown)
    elapsed: float = 0.0  # seconds since the render started

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass
class RenderResult:
    outfile: Path
    frames: int
    fps: Fraction
    duration: float  # seconds of video
    audio_duration: float
    width: int
    height: int
    faceless_frames: int  # output frames passed through unchanged (no face)
    detector_used: str  # "sfd", "opencv" or "box"
    track_cache_hit: bool
    timings: dict[str, float] = field(default_factory=dict)
    model_sha256: str = ""
    model_name: str | None = None  # official file name, None for a custom checkpoint
    # Which runtime ran the network: backend ("torch"/"onnx"), requested
    # ("auto"/"torch"/"onnx"), device, precision ("fp32"/"fp16"/"bf16").
    runtime: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["outfile"] = str(self.outfile)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        return d
