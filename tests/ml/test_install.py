import mediafactory as mf
import pytest

from ml import checkpoint as ckpt
from ml import install
from ml.errors import CheckpointCorrupt, CheckpointError, ModelNotInstalled


def test_where_to_get_text_names_files_and_licence():
    text = install.where_to_get_text()
    assert "wav2lip_gan.pth" in text and "s3fd-619a316812.pth" in text and "non-commercial" in text


def test_custom_checkpoint_installs_and_is_reported_unofficial(tmp_path, random_checkpoint):
    info = install.install_checkpoint(random_checkpoint, tmp_path / "models")
    assert not info.official and info.kind == "wav2lip" and info.path.is_file()
    found = install.find_installed(tmp_path / "models")
    assert found.ready and found.wav2lip == info.path and not found.wav2lip_official
    assert found.s3fd is None
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [info.name]


def test_official_file_is_recognised_and_renamed(tmp_path, monkeypatch):
    src = tmp_path / "download.bin"
    src.write_bytes(b"pretend weights")
    sha = ckpt.file_sha256(src)
    table = (ckpt.KnownFile("wav2lip_gan.pth", src.stat().st_size, sha, "wav2lip"),)
    monkeypatch.setattr(install, "KNOWN_FILES", table)
    monkeypatch.setattr(ckpt, "KNOWN_FILES", table)
    info = install.install_checkpoint(src, tmp_path / "m")
    assert info.official and info.name == "wav2lip_gan.pth"


def test_truncated_or_wrong_files_are_refused(tmp_path, random_checkpoint):
    models = tmp_path / "models"
    cut = tmp_path / "wav2lip.pth"
    cut.write_bytes(random_checkpoint.read_bytes()[:100_000])
    with pytest.raises(CheckpointCorrupt, match="truncated"):
        install.install_checkpoint(cut, models)
    other = tmp_path / "notes.pth"
    other.write_bytes(b"hello")
    with pytest.raises(CheckpointError):
        install.install_checkpoint(other, models)
    s3fd = mf.make_random_s3fd(tmp_path / "s3fd-619a316812.pth")
    with pytest.raises(CheckpointCorrupt):
        install.install_checkpoint(s3fd, models)
    with pytest.raises(ModelNotInstalled):
        install.install_checkpoint(tmp_path / "absent.pth", models)
    assert [p for p in models.iterdir()] == []  # nothing half-installed


def test_find_installed_prefers_gan_and_sees_s3fd(tmp_path):
    (tmp_path / "wav2lip.pth").write_bytes(b"x")
    (tmp_path / "wav2lip_gan.pth").write_bytes(b"x")
    (tmp_path / "s3fd-619a316812.pth").write_bytes(b"x")
    found = install.find_installed(tmp_path)
    assert found.wav2lip.name == "wav2lip_gan.pth" and not found.wav2lip_official
    assert found.s3fd is not None and len(found.checkpoints) == 2
    assert install.find_installed(tmp_path / "nowhere").ready is False


def test_test_checkpoint_is_a_strictly_loadable_wav2lip_marked_as_noise(tmp_path):
    import torch

    info = install.install_test_checkpoint(tmp_path / "models")
    assert info.name == ckpt.TEST_CHECKPOINT_NAME and info.test_model and not info.official
    blob = torch.load(info.path, map_location="cpu", weights_only=True)
    # the official file format: module.-prefixed keys under "state_dict"
    assert set(blob) >= {"state_dict", "optimizer", "global_step", "global_epoch"}
    assert all(k.startswith("module.") for k in blob["state_dict"])
    model, checked = ckpt.load_wav2lip(info.path)  # strict load
    assert checked.test_model and not checked.is_official
    found = install.find_installed(tmp_path / "models")
    assert found.wav2lip == info.path and found.test_model and found.to_dict()["test_model"] is True


def test_a_copy_of_the_test_checkpoint_under_another_name_is_still_the_test_model(tmp_path):
    made = install.install_test_checkpoint(tmp_path / "made")
    disguised = tmp_path / "wav2lip-finetune.pth"
    disguised.write_bytes(made.path.read_bytes())
    info = install.install_checkpoint(disguised, tmp_path / "models", name="mine.pth")
    assert info.name == ckpt.TEST_CHECKPOINT_NAME and info.test_model
    assert install.find_installed(tmp_path / "models").test_model


def test_a_real_checkpoint_replaces_the_test_model(tmp_path, random_checkpoint):
    models = tmp_path / "models"
    test = install.install_test_checkpoint(models).path
    # present side by side (copied in by hand), the other checkpoint is used
    (models / "zzz-custom.pth").write_bytes(b"x")
    found = install.find_installed(models)
    assert found.wav2lip.name == "zzz-custom.pth" and not found.test_model
    (models / "zzz-custom.pth").unlink()
    # installed with install_checkpoint, it also removes the test model
    info = install.install_checkpoint(random_checkpoint, models)
    assert info.removed_test_model and not info.test_model and not test.exists()
    found = install.find_installed(models)
    assert found.wav2lip == info.path and not found.test_model
    assert not ckpt.identify(found.wav2lip).test_model  # what the engine and the manifests report
