"""Cleanup: the dry run lists exactly what the real run frees; inputs of
queued work survive; history stays."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from projects.models import Asset
from rendering import cleanup
from rendering.cleanup import Scope
from rendering.models import Render, Status
from tests.rendering.helpers import add_asset, finish, start_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(alice, project, short_speech, face_clip, face_jpg, settings, tmp_path):
    settings.HEYGEM_SCRATCH_DIR = tmp_path / "scratch"
    audio = add_asset(project, short_speech)
    video = add_asset(project, face_clip)
    image = add_asset(project, face_jpg)
    old = start_batch(alice, project, audio, [video, image], name="old")
    old_video, old_image = old.renders.order_by("position")
    finish(old_video, b"x" * 1000, days_ago=40)
    finish(old_image, b"x" * 1000, days_ago=2)
    queued = start_batch(alice, project, audio, [video], name="queued").renders.get()
    return {"audio": audio, "video": video, "image": image, "old": old_video, "recent": old_image, "queued": queued}


def test_dry_run_deletes_nothing_and_real_run_frees_exactly_that(media):
    scope = Scope(older_than_days=30)
    listed = cleanup.plan(scope)
    assert [c.key for c in listed] == [f"render:{media['old'].pk}"]
    assert listed[0].size == 1000
    path = Path(media["old"].output.path)
    assert path.exists()  # the dry run touched nothing
    deleted = cleanup.execute(scope)
    assert [(c.key, c.size) for c in deleted] == [(c.key, c.size) for c in listed]
    assert not path.exists()
    media["old"].refresh_from_db()
    assert media["old"].output_deleted_at is not None and not media["old"].has_output
    assert media["old"].status == Status.SUCCEEDED  # the history row stays
    media["recent"].refresh_from_db()
    assert media["recent"].has_output and Path(media["recent"].output.path).exists()


def test_inputs_of_queued_renders_survive(media, settings, tmp_path):
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    (tmp_path / "cache" / "mel").mkdir(parents=True)
    needed = tmp_path / "cache" / "mel" / f"{media['audio'].sha256}.npz"
    needed.write_bytes(b"mel")
    stale = tmp_path / "cache" / "mel" / f"{'0' * 64}.npz"
    stale.write_bytes(b"old mel of a deleted file")
    media["audio"].project.assets.filter(pk=media["video"].pk)  # keep
    spare = Asset.objects.create(project=media["audio"].project, kind="audio", original_name="unused.wav",
                                 extension=".wav", sha256="f" * 64, size=3)
    spare.file.save("unused.wav", ContentFile(b"abc"))
    scope = Scope(outputs=False, caches=True, uploads=True)
    keys = {c.key for c in cleanup.plan(scope)}
    assert keys == {f"cache:{stale}", f"asset:{spare.pk}"}
    cleanup.execute(scope)
    assert needed.exists() and not stale.exists()
    for asset in (media["audio"], media["video"]):
        assert Asset.objects.filter(pk=asset.pk).exists() and Path(asset.file.path).exists()
    assert not Asset.objects.filter(pk=spare.pk).exists()


def test_leftovers_of_dead_jobs(media, settings):
    scratch = Path(settings.HEYGEM_SCRATCH_DIR)
    dead = scratch / f"render-{media['recent'].pk}-abc"
    dead.mkdir(parents=True)
    (dead / "face.mp4").write_bytes(b"z" * 10)
    Render.objects.filter(pk=media["queued"].pk).update(status=Status.RUNNING)
    live = scratch / f"render-{media['queued'].pk}-def"
    live.mkdir()
    keys = [c.key for c in cleanup.plan(Scope(outputs=False, leftovers=True))]
    assert keys == [f"scratch:{dead}"]
    cleanup.execute(Scope(outputs=False, leftovers=True))
    assert not dead.exists() and live.exists()


def test_execute_only_deletes_what_was_shown(media):
    Render.objects.filter(pk=media["recent"].pk).update(finished_at=timezone.now() - timedelta(days=50))
    scope = Scope(older_than_days=30)
    assert len(cleanup.plan(scope)) == 2
    deleted = cleanup.execute(scope, keys={f"render:{media['old'].pk}"})
    assert [c.key for c in deleted] == [f"render:{media['old'].pk}"]
    media["recent"].refresh_from_db()
    assert media["recent"].has_output


def test_command(media, capsys):
    call_command("cleanup_outputs", "--older-than", "30d", "--dry-run")
    out = capsys.readouterr().out
    assert "Would free 1000 bytes in 1 item(s)." in out
    assert Path(media["old"].output.path).exists()
    call_command("cleanup_outputs", "--older-than", "30d")
    assert "Freed 1000 bytes in 1 item(s)." in capsys.readouterr().out
    assert not Path(media["old"].output.path).exists()


def test_command_rejects_a_bad_age(media):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not an age"):
        call_command("cleanup_outputs", "--older-than", "lots")


def test_history_says_output_deleted(alice_client, media):
    cleanup.execute(Scope(older_than_days=30))
    page = alice_client.get(reverse("rendering:history")).content.decode()
    assert "output deleted" in page
    assert alice_client.get(reverse("rendering:render_file", args=[media["old"].pk])).status_code == 404
    assert "Output deleted" in alice_client.get(media["old"].get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
def test_retention_runs_from_the_worker(media, settings):
    import threading

    import django_rq

    from rendering.worker import HeyGemWorker

    settings.HEYGEM_RETENTION_DAYS = 30
    connection = django_rq.get_connection("gpu")
    connection.delete("heygem:retention:last")
    worker = HeyGemWorker([django_rq.get_queue("gpu")], connection=connection)
    thread = threading.Thread(target=worker._retention)  # as in the worker: its maintenance thread
    thread.start()
    thread.join()
    media["old"].refresh_from_db()
    assert media["old"].output_deleted_at is not None
    media["recent"].refresh_from_db()
    assert media["recent"].has_output


def test_face_tracks_of_videos_in_use_survive(media, settings, tmp_path):
    import numpy as np

    from ml.track import FaceTrack, TrackCache

    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    cache = TrackCache(tmp_path / "cache" / "tracks")
    track = FaceTrack.fixed((10, 100, 10, 100), 5, 320, 240, 25)
    needed = cache.put(media["video"].sha256, "opencv", {"pads": [0, 10, 0, 0]}, track)
    gone = cache.put("e" * 64, "opencv", {"pads": [0, 10, 0, 0]}, track)
    assert np.array_equal(cache.get(media["video"].sha256, "opencv", {"pads": [0, 10, 0, 0]}).boxes, track.boxes)
    keys = {c.key for c in cleanup.plan(Scope(outputs=False, caches=True))}
    assert keys == {f"cache:{gone}"}
    cleanup.execute(Scope(outputs=False, caches=True))
    assert needed.exists() and not gone.exists()
