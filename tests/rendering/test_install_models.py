"""`manage.py install_models`: a thin shell over ml.install."""

import shutil

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from ml.hashing import file_sha256
from ml.install import install_checkpoint
from rendering.models import Status
from rendering.worker import run_worker
from tests.rendering.helpers import start_batch


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


# --- the random test checkpoint ----------------------------------------------

TEST_NOTE = "Test model: the mouth is noise, not lip-sync."


@pytest.fixture
def test_model_dir(settings, tmp_path, capsys):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    call_command("install_models", "--test-checkpoint")
    out = capsys.readouterr().out
    assert TEST_NOTE in out and "wav2lip-TEST-random-weights.pth" in out
    return settings.HEYGEM_MODEL_DIR


def test_the_test_checkpoint_is_loaded_strictly_by_the_engine_and_reported(test_model_dir, capsys):
    from rendering import engine as engines

    assert [p.name for p in test_model_dir.glob("*.pth")] == ["wav2lip-TEST-random-weights.pth"]
    engine = engines.get_engine()
    assert engines.uses_test_model(engine) and engine.checkpoint.path.name == "wav2lip-TEST-random-weights.pth"
    assert engines.model_label(engine) == "test model (noise)"  # the ops page's worker table
    call_command("install_models")
    assert TEST_NOTE in capsys.readouterr().out


def test_test_checkpoint_takes_no_source(settings, tmp_path, random_checkpoint):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    with pytest.raises(CommandError, match="--test-checkpoint"):
        call_command("install_models", "--test-checkpoint", "--from", str(random_checkpoint))


@pytest.mark.django_db
def test_every_page_says_test_model_until_a_real_checkpoint_is_installed(test_model_dir, alice_client,
                                                                        random_checkpoint, capsys):
    for url in ("/", "/projects/", reverse("rendering:history")):
        assert TEST_NOTE in alice_client.get(url).content.decode(), url
    assert TEST_NOTE in Client().get(reverse("login")).content.decode()

    # copied in by hand next to it, any other checkpoint is preferred
    other = test_model_dir / "a-real-one.pth"
    shutil.copy(random_checkpoint, other)
    assert TEST_NOTE not in alice_client.get("/").content.decode()
    other.unlink()
    assert TEST_NOTE in alice_client.get("/").content.decode()

    # installed with the command, it replaces the test model
    call_command("install_models", "--from", str(random_checkpoint))
    assert "Removed the test model" in capsys.readouterr().out
    assert [p.name for p in test_model_dir.glob("*.pth")] == [random_checkpoint.name]
    assert TEST_NOTE not in alice_client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_renders_with_the_test_model_say_so_in_manifest_and_log(test_model_dir, alice, project, audio, video,
                                                                 alice_client, random_checkpoint):
    batch = start_batch(alice, project, audio, [video])
    run_worker(["gpu"], burst=True)
    render = batch.renders.get()
    assert render.status == Status.SUCCEEDED, render.log
    assert render.manifest["model"]["test_model"] is True
    assert render.manifest["model"]["sha256"] == file_sha256(test_model_dir / "wav2lip-TEST-random-weights.pth")
    assert TEST_NOTE in render.log
    # Long after a real checkpoint replaced it, that render's page still says what made it.
    install_checkpoint(random_checkpoint, test_model_dir)
    assert not (test_model_dir / "wav2lip-TEST-random-weights.pth").exists()
    page = alice_client.get(render.get_absolute_url()).content.decode()
    assert "data-test-model" in page and "Test model: the mouth is noise, not lip-sync." in page


@pytest.mark.django_db(transaction=True)
def test_install_builds_the_onnx_graph_and_workers_render_with_it(settings, tmp_path, random_checkpoint, alice,
                                                                  project, audio, video, capsys):
    """HEYGEM_ENGINE_BACKEND=onnx: install_models builds the graph beside the
    checkpoint, the worker uses it (no second export) and the manifest and
    log say which backend ran."""
    from rendering import engine as engines

    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    settings.HEYGEM_ENGINE_BACKEND = "onnx"
    call_command("install_models", "--from", str(random_checkpoint))
    out = capsys.readouterr().out
    graph = tmp_path / "models" / "compiled" / f"wav2lip-{file_sha256(random_checkpoint)}.onnx"
    assert "ONNX graph built" in out and graph.is_file()
    built_at = graph.stat().st_mtime_ns

    batch = start_batch(alice, project, audio, [video])
    run_worker(["gpu"], burst=True)
    render = batch.renders.get()
    assert render.status == Status.SUCCEEDED, render.log
    assert render.manifest["runtime"] == {"backend": "onnx", "requested": "onnx", "device": "cpu", "precision": "fp32"}
    assert "Backend: onnx, ONNX Runtime" in render.log
    assert graph.stat().st_mtime_ns == built_at and engines.loaded_engine().backend == "onnx"

    call_command("install_models", "--build-graph")
    assert "ONNX graph already up to date" in capsys.readouterr().out
