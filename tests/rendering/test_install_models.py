"""`manage.py install_models`: a thin shell over ml.install."""

import pytest
from django.core.management import CommandError, call_command


def test_without_arguments_it_says_where_to_get_the_weights(settings, tmp_path, capsys):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    call_command("install_models")
    out = capsys.readouterr().out
    assert "Wav2Lip checkpoint: not installed" in out
    assert "non-commercial" in out
    assert "install_models --from" in out


def test_installs_a_custom_checkpoint(settings, tmp_path, random_checkpoint, capsys):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    call_command("install_models", "--from", str(random_checkpoint))
    out = capsys.readouterr().out
    assert "custom checkpoint (unknown checksum)" in out
    assert (tmp_path / "models" / random_checkpoint.name).exists()


def test_refuses_a_truncated_official_file(settings, tmp_path, random_checkpoint, capsys):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    fake = tmp_path / "wav2lip_gan.pth"
    fake.write_bytes(random_checkpoint.read_bytes()[:100_000])
    with pytest.raises(CommandError, match="refused"):
        call_command("install_models", "--from", str(fake))
    assert "wav2lip_gan.pth" in capsys.readouterr().err
    assert not list((tmp_path / "models").glob("*.pth"))


def test_refuses_a_file_that_is_no_checkpoint(settings, tmp_path, capsys):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    junk = tmp_path / "model.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CommandError):
        call_command("install_models", "--from", str(junk))
    assert not list((tmp_path / "models").glob("*.pth"))


def test_missing_path(settings, tmp_path):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    with pytest.raises(CommandError, match="does not exist"):
        call_command("install_models", "--from", str(tmp_path / "nope.pth"))
