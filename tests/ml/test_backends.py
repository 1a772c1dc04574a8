"""Inference backends (ml/backends.py): the same network, other runtimes.

Parity is against the reference computation (eager PyTorch, NCHW, fp32) on a
RANDOM checkpoint: these tests check that a backend computes the same
function, never lip-sync quality. The ONNX graph of the session checkpoint is
exported once (conftest ``compiled``) and copied where a test needs it.
"""

from __future__ import annotations

import json
import shutil

import mediafactory as mf
import numpy as np
import pytest
import torch

from ml import backends, infer
from ml.checkpoint import load_wav2lip
from ml.infer import Generator
from ml.pipeline import LipSyncEngine, RenderSettings

BACKENDS = ["torch", "onnx"]


@pytest.fixture(scope="module")
def reference(random_checkpoint):
    model, _ = load_wav2lip(random_checkpoint)
    return Generator(model, torch.device("cpu"))  # eager, NCHW: what the reference runs


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(7)
    crops = rng.integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (5, 80, 16)).astype(np.float32)
    return crops, mels


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_computes_the_reference_network(engines, backend, reference, inputs):
    """fp32 parity: uint8 faces within one level of the reference (truncation
    of values a rounding error away from an integer), whatever the batch."""
    gen = engines(backend).generator()
    assert gen.backend == backend
    crops, mels = inputs
    ref = reference(crops, mels).astype(int)
    together = gen(crops, mels).astype(int)
    alone = np.concatenate([gen(crops[i : i + 1], mels[i : i + 1]) for i in range(len(crops))]).astype(int)
    for out in (together, alone):
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1
        assert (out != ref).mean() < 1e-3  # nearly every value identical


def test_onnx_graph_is_keyed_by_the_checkpoint_and_rebuilt_when_it_changes(random_checkpoint, compiled, engines,
                                                                          tmp_path):
    from ml.hashing import file_sha256

    engines("onnx")  # the session's export exists

    first_sha = file_sha256(random_checkpoint)
    folder = tmp_path / "compiled"
    folder.mkdir()
    cached = backends.onnx_path(compiled, first_sha)
    shutil.copy(cached, backends.onnx_path(folder, first_sha))

    path, built = backends.ensure_onnx(random_checkpoint, first_sha, cache_dir=folder)
    assert not built and path == backends.onnx_path(folder, first_sha)  # cache hit: no export

    # The installed checkpoint changes (other weights, same path): a new graph, the old one gone.
    changed = tmp_path / "model.pth"
    mf.make_random_checkpoint(changed, seed=3)
    new_sha = file_sha256(changed)
    path, built = backends.ensure_onnx(changed, new_sha, cache_dir=folder)
    assert built and path.name == f"wav2lip-{new_sha}.onnx"
    assert sorted(p.name for p in folder.iterdir()) == [path.name]
    # ... and it computes the new weights, not the old ones.
    model, _ = load_wav2lip(changed)
    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (2, 80, 16)).astype(np.float32)
    ref = Generator(model, torch.device("cpu"))(crops, mels).astype(int)
    assert np.abs(backends.OnnxGenerator(path)(crops, mels).astype(int) - ref).max() <= 1


def test_a_damaged_cached_graph_is_built_again(random_checkpoint, tmp_path, inputs, reference):
    from ml.hashing import file_sha256

    folder = tmp_path / "compiled"
    folder.mkdir()
    graph = backends.onnx_path(folder, file_sha256(random_checkpoint))
    graph.write_bytes(b"\x08\x07" + b"not a graph" * 100)  # e.g. a disk error
    engine = LipSyncEngine(random_checkpoint, device="cpu", backend="onnx", compiled_dir=folder)
    crops, mels = inputs
    out = engine.generator()(crops, mels).astype(int)
    assert np.abs(out - reference(crops, mels).astype(int)).max() <= 1
    assert graph.stat().st_size > 100_000_000  # the real graph (36 M float32 weights)


def test_auto_measures_once_per_device_and_says_which_backend_ran(random_checkpoint, compiled, engines, tmp_path,
                                                                 face_clip, speech_1s, monkeypatch):
    from ml.hashing import file_sha256

    monkeypatch.setattr(backends, "AUTO_TIMED_BATCHES", 1)  # the choice logic, not a good measurement

    engines("onnx")
    folder = tmp_path / "compiled"
    folder.mkdir()
    sha = file_sha256(random_checkpoint)
    shutil.copy(backends.onnx_path(compiled, sha), backends.onnx_path(folder, sha))

    first = LipSyncEngine(random_checkpoint, device="cpu", batch_size=2, backend="auto", compiled_dir=folder)
    assert first.backend in BACKENDS and not first.backend_choice.cached
    assert set(first.backend_choice.ms_per_batch) == {"torch", "onnx"}
    assert first.backend == min(first.backend_choice.ms_per_batch, key=first.backend_choice.ms_per_batch.get)
    saved = json.loads((folder / backends.CHOICE_FILE).read_text())
    assert [entry["backend"] for entry in saved.values()] == [first.backend]
    (key,) = saved
    assert key.startswith("cpu|") and "batch 2" in key

    # A second engine on the same device reads the choice instead of measuring.
    second = LipSyncEngine(random_checkpoint, device="cpu", batch_size=2, backend="auto", compiled_dir=folder)
    assert second.backend == first.backend and second.backend_choice.cached
    res = second.render(face_clip, speech_1s, tmp_path / "out.mp4", RenderSettings(box=(60, 200, 100, 230)))
    assert res.runtime == {"backend": first.backend, "requested": "auto", "device": "cpu", "precision": "fp32"}
    line = next(line for line in res.log if line.startswith("Backend:"))
    assert f"Backend: {first.backend}," in line and "fastest measured on this device (cached)" in line


def test_backend_names_and_reduced_precision_on_cpu(engines, random_checkpoint, monkeypatch):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        LipSyncEngine(random_checkpoint, device="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        LipSyncEngine(random_checkpoint, device="cpu", backend="torch", precision="fp8")
    with pytest.raises(ValueError, match="precision must be one of"):
        RenderSettings(precision="half")
    # fp16 is a GPU feature: on the CPU the torch backend stays fp32 and says so.
    engine = engines("torch")
    assert engine.precision("fp16") == "fp32"
    assert engine.generator("fp16").precision == "fp32"
    assert "fp16 was asked for but fp16 needs a GPU" in engine.backend_note("fp16")
    # bf16 on a CPU without bf16 instructions: fp32, said in the log line.
    monkeypatch.setattr(infer, "cpu_has_bf16", lambda: False)
    assert engine.precision("bf16") == "fp32"
    assert "bf16 was asked for but this CPU has no bf16 instructions" in engine.backend_note("bf16")
    # The onnx backend is fp32 only, and says so too.
    assert "bf16 was asked for but the onnx backend runs fp32" in engines("onnx").backend_note("bf16")


def test_settings_written_before_precisions_had_names_still_read():
    assert RenderSettings.from_dict({"fp16": True}).precision == "fp16"
    assert RenderSettings.from_dict({"fp16": False}).precision == "fp32"


@pytest.mark.skipif(not infer.cpu_has_bf16(), reason="needs a CPU with bf16 instructions (AVX-512 BF16 or AMX)")
def test_cpu_bf16_stays_close_to_fp32_and_the_render_says_so(random_checkpoint, reference, inputs, face_clip,
                                                             speech_1s, tmp_path):
    """The opt-in bf16 path on a CPU that has it: within a few uint8 levels of
    the fp32 reference (docs/engine.md quotes the figure), and every render
    log and manifest says bf16 ran."""
    engine = LipSyncEngine(random_checkpoint, device="cpu", backend="torch", precision="bf16", batch_size=8)
    crops, mels = inputs
    ref = reference(crops, mels).astype(int)
    gen = engine.generator("bf16")
    assert gen.precision == "bf16"
    diff = np.abs(gen(crops, mels).astype(int) - ref)
    print(f"bf16 (CPU) vs fp32 reference: max {diff.max()}, mean {diff.mean():.4f}")
    assert 0 < diff.max() <= 8 and diff.mean() < 0.5  # not fp32 in disguise, and close
    res = engine.render(face_clip, speech_1s, tmp_path / "bf16.mp4",
                        RenderSettings(box=(60, 200, 100, 230), precision="bf16"))
    assert res.runtime["precision"] == "bf16"
    assert any(line.startswith("Backend: torch,") and ", bf16 (" in line for line in res.log)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_reduced_precision_stays_close_to_fp32(random_checkpoint, reference, inputs, precision):
    """The opt-in fp16 and bf16 paths on a GPU: within a few uint8 levels of
    the fp32 reference (the figures docs/engine.md quotes come from this check)."""
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    engine = LipSyncEngine(random_checkpoint, device="cuda", backend="torch", precision=precision, batch_size=8)
    crops, mels = inputs
    ref = reference(crops, mels).astype(int)
    fp32 = engine.generator("fp32")(crops, mels).astype(int)
    reduced = engine.generator(precision)(crops, mels).astype(int)
    assert np.abs(fp32 - ref).max() <= 2  # fp32 on cuDNN (TF32 off): a rounding level or two
    diff = np.abs(reduced - ref)
    print(f"{precision} (CUDA) vs fp32 reference: max {diff.max()}, mean {diff.mean():.4f}")
    assert diff.max() <= 8 and diff.mean() < 0.5
