"""The render log in the reader's language (rendering/log_lines.py).

Every engine line shape has a translatable template with the same values;
a real render's log, from the worker and from the engine itself, holds no
line that is neither a time stamp, a fixed sentence of the job nor a known
shape, so a new engine line without a translation fails here. The Chinese
wording is the catalogue's business (tests/test_i18n.py): these tests only
check that the lines are matched and their values kept.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from ml.detect import S3FD_FILENAME, make_detector
from ml.settings import RenderSettings
from ml.track import TrackCache
from rendering import engine as engines
from rendering.log_lines import ENGINE_LINES, Shape, is_known, localized_log, translate_line
from rendering.worker import run_worker
from tests import mediafactory
from tests.rendering.helpers import add_asset, start_batch, statuses

# At least one line per shape, and per phrase inside a line; the test below
# fails when a shape is added without a sample here.
SAMPLES = [
    "Model: custom checkpoint (sha256 ab12cd34ef56ab78…, not an official file).",
    "Model: wav2lip_gan.pth (official, sha256 verified).",
    "Backend: torch, PyTorch 2.8.0 (channels-last) on cpu, fp32 (set by configuration).",
    "Backend: torch, PyTorch 2.13.0 (channels-last) on cpu, fp32 (set by configuration); fp16 was asked for but"
    " fp16 needs a GPU (CPUs run it slower than fp32): fp32 ran.",
    "Backend: torch, PyTorch 2.13.0 (channels-last) on cuda:0, fp32 (the only backend that runs on this device);"
    " bf16 was asked for but this GPU has no bf16: fp32 ran.",
    "Backend: torch, PyTorch 2.13.0 (channels-last) on cpu, fp32 (chosen); bf16 was asked for but this CPU has no"
    " bf16 instructions (AVX-512 BF16 or AMX): fp32 ran.",
    "Backend: onnx, ONNX Runtime 1.32.0 on cpu, fp32 (fastest measured on this device (cached): onnx 820 ms,"
    " torch 900 ms per batch).",
    "Backend: onnx, ONNX Runtime 1.32.0 on cuda, fp32 (fastest measured on this device: onnx 12 ms, torch 15 ms"
    " per batch); fp16 was asked for but the onnx backend runs fp32.",
    "Audio: 1.20 s, resampled to 16 kHz with soxr HQ.",
    "Video: 320x240 at 25 fps; 30 output frames.",
    "Video: 320x240 at 25 fps (still image); 30 output frames.",
    "Video: 240x320 at 30000/1001 fps (turned 90° clockwise, as players show it); 36 output frames.",
    "3 frame(s) without a face were passed through unchanged.",
    "Face box: fixed (no detection, no padding, no smoothing).",
    "Face detector: OpenCV Haar cascade (requested).",
    "Face detector: OpenCV Haar cascade (fallback: no s3fd-619a316812.pth in the model directory; install it for"
    " better detection).",
    "Face detector: S3FD (s3fd-619a316812.pth).",
    "Face track: from cache (detection skipped).",
    "Failed: no_face_found: No face was found in my clip.mp4.",
    "Failed: internal.",
]

STAMP = re.compile(r"--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
ROOT = Path(__file__).resolve().parents[2]


def all_shapes(shapes=ENGINE_LINES) -> list[Shape]:
    found = []
    for candidate in shapes:
        found.append(candidate)
        for inner in candidate.parts.values():
            found.extend(all_shapes(inner))
    return found


def walk(text: str, shapes) -> tuple[list[Shape], list[str]]:
    """The shapes a text goes through (the line's and its phrases'), and its
    values that are not phrases (numbers, names, versions)."""
    for candidate in shapes:
        found = candidate.pattern.fullmatch(text)
        if found:
            used, values = [candidate], []
            for name, value in found.groupdict(default="").items():
                if value and name in candidate.parts:
                    inner_used, inner_values = walk(value, candidate.parts[name])
                    used += inner_used
                    values += inner_values
                elif value:
                    values.append(value)
            return used, values
    return [], []


def fixed_sentences() -> set[str]:
    """The job's sentences, marked with gettext_noop and translated as they are."""
    sentences = set()
    for module in ("rendering/jobs.py", "rendering/services.py"):
        for node in ast.walk(ast.parse((ROOT / module).read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext_noop":
                sentences.add(node.args[0].value)
    return sentences


def unknown_lines(log: str) -> list[str]:
    fixed = fixed_sentences()
    return [line for line in log.split("\n") if not (STAMP.fullmatch(line) or line in fixed or is_known(line))]


# --- the table ----------------------------------------------------------------


def test_every_template_has_a_placeholder_for_each_value_and_no_other():
    with translation.override("en"):
        for candidate in all_shapes():
            placeholders = set(re.findall(r"%\((\w+)\)s", str(candidate.template)))
            assert placeholders == set(candidate.pattern.groupindex), candidate.pattern.pattern
            assert set(candidate.parts) <= placeholders, candidate.pattern.pattern


def test_every_shape_and_phrase_is_walked_by_a_sample():
    used = [s for line in SAMPLES for s in walk(line, ENGINE_LINES)[0]]
    missing = [s.pattern.pattern for s in all_shapes() if s not in used]
    assert not missing, missing
    assert [line for line in SAMPLES if not is_known(line)] == []


@pytest.mark.parametrize("line", SAMPLES)
def test_a_line_reads_as_written_in_english_and_keeps_its_values_in_chinese(line):
    used, values = walk(line, ENGINE_LINES)
    with translation.override("en"):
        assert translate_line(line) == line
        msgid = str(used[0].template)
    with translation.override("zh-hans"):
        translated = translate_line(line)
        for value in values:
            assert value in translated, value
        if translation.gettext(msgid) != msgid:  # once the catalogue has the line
            assert translated != line


def test_unknown_lines_and_phrases_stay_as_written():
    assert translate_line("Something new from the engine: 42.") is None
    assert not is_known("Something new from the engine: 42.")
    # a known line with an unknown phrase inside is translated around it, and is not "known"
    line = "Backend: torch, PyTorch 2.8.0 (channels-last) on cpu, fp32 (a new reason)."
    assert not is_known(line)
    with translation.override("en"):
        assert translate_line(line) == line
    with translation.override("zh-hans"):
        translated = translate_line(line)
        assert translated != line and "a new reason" in translated and "2.8.0" in translated


def test_log_keeps_time_stamps_blank_lines_and_translates_fixed_sentences():
    log = "--- 2026-11-29 10:00:00\nRendering on the CPU.\n\nAudio: 1.20 s, resampled to 16 kHz with soxr HQ."
    with translation.override("en"):
        assert localized_log(log) == log
    with translation.override("zh-hans"):
        lines = localized_log(log).split("\n")
        assert lines[1] == translation.gettext("Rendering on the CPU.") != "Rendering on the CPU."
    assert lines[0] == "--- 2026-11-29 10:00:00" and lines[2] == ""
    assert "1.20" in lines[3] and "soxr HQ" in lines[3]


# --- real logs ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_real_render_logs_have_only_known_lines_and_the_page_shows_them_translated(
        alice, alice_client, project, audio, face_jpg, faceless_clip, model_dir, settings, tmp_path):
    settings.HEYGEM_ENGINE_BACKEND = "torch"  # no backend measurement (an ONNX export) here
    photo, faceless = add_asset(project, face_jpg), add_asset(project, faceless_clip)
    batch = start_batch(alice, project, audio, [photo, faceless])
    run_worker(["gpu"], burst=True)
    assert statuses(batch) == ["succeeded", "failed"]
    for render in batch.renders.all():
        assert render.log.startswith("--- ")
        assert unknown_lines(render.log) == []
    succeeded, failed = batch.renders.order_by("position")
    assert "(still image)" in succeeded.log
    assert "Failed: no_face_found: No face was found in landscape.mp4." in failed.log
    page = alice_client.get(reverse("rendering:render", args=[failed.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    shown = html.unescape(re.search(r"<pre class=\"log\" data-log>(.*?)</pre>", page.content.decode(), re.S)[1])
    with translation.override("zh-hans"):
        assert shown == localized_log(failed.log)
    assert "Rendering on the CPU." not in shown  # a sentence the catalogue has is shown translated
    assert "landscape.mp4" in shown  # values stay as written

    # The lines that render did not write, from the worker's loaded engine: frames
    # without a face, a cached face track, a turned video, a fixed box, each detector.
    engine = engines.get_engine()
    speech = mediafactory.cut_audio(audio.file.path, tmp_path / "a.wav", 0.4)
    gaps = mediafactory.make_face_clip(tmp_path / "gaps.mp4", seconds=0.4, fps=25, faceless_frames=range(3, 7))
    turned = mediafactory.make_rotated_clip(tmp_path / "turned.mp4", seconds=0.4)
    cache = TrackCache(tmp_path / "tracks")
    lines = []
    for face, options in ((gaps, {}), (gaps, {}), (turned, {"settings": RenderSettings(box=(40, 200, 60, 200))})):
        lines += engine.render(face, speech, tmp_path / "out.mp4", track_cache=cache, **options).log
    s3fd = mediafactory.make_random_s3fd(tmp_path / "detectors" / S3FD_FILENAME)
    lines += [make_detector("opencv")[1], make_detector("sfd", s3fd.parent)[1]]
    assert [line for line in lines if not is_known(line)] == []
    for expected in ("frame(s) without a face", "Face track: from cache", "(turned 90° clockwise", "Face box: fixed",
                     "(requested)", "Face detector: S3FD"):
        assert any(expected in line for line in lines), expected
