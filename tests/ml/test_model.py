from pathlib import Path

import mediafactory as mf
import numpy as np
import pytest
import torch

from ml import checkpoint as ckpt
from ml.errors import CheckpointCorrupt, CheckpointError, ModelNotInstalled
from ml.infer import Generator
from ml.model import Wav2Lip, parameter_count

TSV = Path(__file__).with_name("state_dict_keys.tsv")


def _tsv() -> dict[str, str]:
    rows = [line.rstrip("\n").split("\t") for line in TSV.read_text().splitlines()[1:]]
    return dict(rows)


def test_state_dict_keys_and_shapes_equal_the_official_list():
    expected = _tsv()
    assert len(expected) == 352
    got = {k: "x".join(map(str, v.shape)) if v.dim() else "scalar" for k, v in Wav2Lip().state_dict().items()}
    assert got == expected
    assert parameter_count(Wav2Lip()) == 36_298_035


def test_output_shape_and_range():
    model = Wav2Lip().eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96)
    assert 0 <= out.min() and out.max() <= 1


def test_eval_mode_output_does_not_depend_on_the_batch(random_checkpoint):
    model, _ = ckpt.load_wav2lip(random_checkpoint)
    gen = Generator(model, torch.device("cpu"))
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (3, 80, 16)).astype(np.float32)
    together = gen(crops, mels)
    alone = np.concatenate([gen(crops[i : i + 1], mels[i : i + 1]) for i in range(3)])
    assert together.shape == (3, 96, 96, 3) and together.dtype == np.uint8
    assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1


def test_generator_feeds_the_reference_layout(random_checkpoint):
    """Channels 0-2: crop with the lower half zeroed; 3-5: the crop; BGR/255;
    output (pred * 255) truncated -- exactly the reference's numpy code."""
    model, _ = ckpt.load_wav2lip(random_checkpoint)
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (2, 80, 16)).astype(np.float32)
    masked = crops.copy()
    masked[:, 48:] = 0
    img = np.concatenate((masked, crops), axis=3) / 255.0
    x = torch.FloatTensor(np.transpose(img, (0, 3, 1, 2)))
    m = torch.FloatTensor(mels[..., None].transpose(0, 3, 1, 2))
    with torch.no_grad():
        ref = (model(m, x).cpu().numpy().transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
    ours = Generator(model, torch.device("cpu"))(crops, mels)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_module_prefix_is_stripped(tmp_path):
    plain = mf.make_random_checkpoint(tmp_path / "plain.pth", seed=3)
    prefixed = mf.make_random_checkpoint(tmp_path / "dp.pth", seed=3, module_prefix=True)
    raw = torch.load(prefixed, weights_only=True)
    assert set(raw) == {"state_dict", "optimizer", "global_step", "global_epoch"}
    assert all(k.startswith("module.") for k in raw["state_dict"])
    a = ckpt.load_wav2lip(plain)[0].state_dict()
    b = ckpt.load_wav2lip(prefixed)[0].state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_wrong_keys_are_rejected(tmp_path):
    sd = Wav2Lip().state_dict()
    sd.pop("output_block.1.weight")
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError) as err:
        ckpt.load_wav2lip(path)
    assert "1 missing, 1 unexpected" in err.value.message
    sd = Wav2Lip().state_dict()
    sd["output_block.1.bias"] = torch.zeros(4)
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError, match="wrongly shaped"):
        ckpt.load_wav2lip(path)


def test_unreadable_and_missing_checkpoints(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(CheckpointCorrupt):
        ckpt.load_wav2lip(junk)
    with pytest.raises(ModelNotInstalled):
        ckpt.load_wav2lip(tmp_path / "absent.pth")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(CheckpointCorrupt):
        ckpt.load_wav2lip(path)


def test_truncated_checkpoint_is_a_clear_error(tmp_path, random_checkpoint):
    cut = tmp_path / "wav2lip.pth"
    cut.write_bytes(random_checkpoint.read_bytes()[:5_000_000])
    with pytest.raises(CheckpointCorrupt, match="truncated"):
        ckpt.load_wav2lip(cut)


def test_known_files_are_recognised_by_checksum(tmp_path, monkeypatch):
    f = tmp_path / "w.pth"
    f.write_bytes(b"0123456789")
    sha = ckpt.file_sha256(f)
    monkeypatch.setattr(ckpt, "KNOWN_FILES", (ckpt.KnownFile("wav2lip.pth", 10, sha, "wav2lip"),))
    assert ckpt.identify(f).known_as == "wav2lip.pth"
    f.write_bytes(b"9876543210")  # same size, other content: a damaged copy
    with pytest.raises(CheckpointCorrupt) as err:
        ckpt.identify(f)
    assert err.value.code == "checkpoint_corrupt"
    f.write_bytes(b"custom fine-tune")
    info = ckpt.identify(f)
    assert info.known_as is None and not info.is_official and len(info.sha256) == 64


def test_official_table_matches_the_spec():
    names = {k.name: (k.size, k.sha256[:8]) for k in ckpt.KNOWN_FILES}
    assert names == {
        "wav2lip.pth": (435_807_851, "b78b681b"),
        "wav2lip_gan.pth": (435_801_865, "ca9ab7b7"),
        "s3fd-619a316812.pth": (89_843_225, "619a3168"),
    }
