import subprocess
import sys
from pathlib import Path

import mediafactory as mf

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "ml.lipsync", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_cli_renders_with_a_fixed_box(tmp_path, face_clip, random_checkpoint, speech_1s):
    audio = mf.cut_audio(speech_1s, tmp_path / "a.wav", 0.4)
    out = tmp_path / "o.mp4"
    p = run(
        "--face",
        face_clip,
        "--audio",
        audio,
        "--checkpoint",
        random_checkpoint,
        "--outfile",
        out,
        "--box",
        60,
        200,
        100,
        230,
        "--device",
        "cpu",
        "--batch-size",
        4,
        "--backend",
        "onnx",
    )
    assert p.returncode == 0, p.stderr
    assert out.is_file() and "10 frames" in p.stderr
    assert "Backend: onnx, ONNX Runtime" in p.stderr  # which runtime ran the network
    # built beside the checkpoint on first use (or reused from the session's engines)
    assert list((random_checkpoint.parent / "compiled").glob("wav2lip-*.onnx"))


def test_cli_bad_input_is_one_line_without_traceback(tmp_path, face_clip, random_checkpoint):
    silent = mf.make_silence(tmp_path / "z.wav", 1.0)
    p = run(
        "--face",
        face_clip,
        "--audio",
        silent,
        "--checkpoint",
        random_checkpoint,
        "--outfile",
        tmp_path / "o.mp4",
        "--quiet",
        "--backend",
        "torch",  # no first-use measurement: this is about the message
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == ["error: The audio is silent: there is no voice to lip-sync to."]
    assert not (tmp_path / "o.mp4").exists()
    p = run(
        "--face",
        tmp_path / "missing.mp4",
        "--audio",
        silent,
        "--checkpoint",
        tmp_path / "missing.pth",
        "--outfile",
        tmp_path / "o.mp4",
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1


def test_cli_precision_flags_that_contradict_are_refused(tmp_path, face_clip, random_checkpoint, speech_1s):
    p = run(
        "--face", face_clip, "--audio", speech_1s, "--checkpoint", random_checkpoint, "--outfile", tmp_path / "o.mp4",
        "--fp16", "--precision", "bf16", "--backend", "torch",
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: --fp16 and --precision bf16 contradict each other"]
    assert not (tmp_path / "o.mp4").exists()
