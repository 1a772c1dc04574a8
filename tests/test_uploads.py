"""Uploading into a project: what goes in, what is refused and why."""

import os
import shutil
import time
from fractions import Fraction

import pytest
from django.urls import reverse

from projects.models import Asset
from tests import bombs, mediafactory
from tests.conftest import encode_audio
from tests.streams import body

pytestmark = pytest.mark.django_db


def upload(client, project, *paths, names=None, json=True):
    files = []
    for i, path in enumerate(paths):
        fh = open(path, "rb")
        if names:
            from django.core.files.uploadedfile import SimpleUploadedFile

            fh = SimpleUploadedFile(names[i], fh.read())
        files.append(fh)
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    response = client.post(reverse("projects:upload", args=[project.pk]), {"files": files}, **headers)
    for fh in files:
        fh.close()
    return response


def test_audio_is_probed(alice_client, project, speech_wav):
    response = upload(alice_client, project, speech_wav)
    assert response.json()["files"][0]["ok"]
    asset = project.assets.get()
    assert asset.kind == Asset.Kind.AUDIO
    assert asset.sample_rate == 16000 and asset.channels == 1
    assert asset.duration == pytest.approx(7.35, abs=0.02)
    assert asset.original_name == "speech.wav"
    assert len(asset.sha256) == 64


@pytest.mark.parametrize("suffix,codec", [(".mp3", "libmp3lame"), (".m4a", "aac"), (".ogg", "libopus"), (".flac", "flac")])
def test_common_audio_formats(alice_client, project, speech_wav, tmp_path, suffix, codec):
    rate = 48000 if codec == "libopus" else None
    path = encode_audio(speech_wav, tmp_path / f"voice{suffix}", codec, rate)
    response = upload(alice_client, project, path)
    assert response.json()["files"][0]["ok"], response.json()
    assert project.assets.get().duration == pytest.approx(7.35, abs=0.1)


def with_cover_art(audio, target, tmp_path):
    """The recording with an embedded picture, as phone and podcast apps save it."""
    import subprocess

    import cv2
    import imageio_ffmpeg

    cover = tmp_path / "cover.jpg"
    cv2.imwrite(str(cover), mediafactory.face_frame(0, 1, (300, 300), moving=False))
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(audio), "-i", str(cover)]
    command += ["-map", "0", "-map", "1", "-c", "copy", "-disposition:v", "attached_pic", str(target)]
    subprocess.run(command, check=True)
    return target


@pytest.mark.parametrize("suffix,codec", [(".mp3", "libmp3lame"), (".m4a", "aac")])
def test_recording_with_cover_art_is_audio(alice_client, project, speech_wav, tmp_path, suffix, codec):
    plain = encode_audio(speech_wav, tmp_path / f"plain{suffix}", codec)
    path = with_cover_art(plain, tmp_path / f"voice memo{suffix}", tmp_path)
    import av

    with av.open(str(path)) as container:  # the picture really is there, as a video stream
        assert [s.type for s in container.streams] == ["audio", "video"]
    response = upload(alice_client, project, path)
    assert response.json()["files"][0]["ok"], response.json()
    asset = project.assets.get()
    assert asset.kind == Asset.Kind.AUDIO and asset.preflight == []
    assert asset.duration == pytest.approx(7.35, abs=0.1)
    assert not asset.poster and asset.width is None
    page = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert f"voice memo{suffix} (0:00:07)" in page  # offered as the voice recording


def test_silent_recording_is_flagged_on_its_card_and_in_the_batch_form(alice_client, project, tmp_path):
    path = mediafactory.make_silence(tmp_path / "silent take.wav", seconds=2.0)
    assert upload(alice_client, project, path).json()["files"][0]["ok"]
    asset = project.assets.get()
    assert [f["code"] for f in asset.preflight] == ["audio_silent"]
    message = "This recording is silent: the mouth will not move. Check the microphone or the export."
    card = alice_client.get(project.get_absolute_url()).content.decode()
    assert f'<li class="warning">{message}</li>' in card
    form = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert "silent take.wav (0:00:02) ⚠</option>" in form
    assert f"<strong>silent take.wav</strong>: {message}</li>" in form
    details = alice_client.get(asset.get_absolute_url()).content.decode()
    assert f'<li class="warning">{message}</li>' in details


def test_clean_recording_has_no_warning_in_the_batch_form(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav)
    form = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert "speech.wav (0:00:07)</option>" in form and "data-audio-warnings" not in form


def test_video_gets_facts_poster_and_clean_preflight(alice_client, project, face_clip):
    upload(alice_client, project, face_clip)
    asset = project.assets.get()
    assert asset.kind == Asset.Kind.VIDEO
    assert (asset.width, asset.height) == (320, 240)
    assert asset.fps == Fraction(25)
    assert asset.frame_count == 25
    assert asset.video_codec == "h264"
    assert asset.poster
    assert [f["code"] for f in asset.preflight] == ["low_resolution"]
    poster = alice_client.get(reverse("projects:asset_poster", args=[asset.pk]))
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"


def test_ntsc_frame_rate_is_kept_exact(alice_client, project, tmp_path):
    path = mediafactory.make_face_clip(tmp_path / "ntsc.mp4", seconds=0.5, fps=Fraction(30000, 1001))
    upload(alice_client, project, path)
    asset = project.assets.get()
    assert (asset.fps_num, asset.fps_den) == (30000, 1001)


def test_faceless_video_warns_before_rendering(alice_client, project, faceless_clip):
    upload(alice_client, project, faceless_clip)
    asset = project.assets.get()
    codes = {f["code"]: f["params"] for f in asset.preflight}
    assert codes["no_face"]["percent"] == 100
    page = alice_client.get(asset.get_absolute_url()).content.decode()
    assert "No face found in any sampled frame" in page


def test_partly_faceless_video_reports_the_share(alice_client, project, tmp_path):
    path = mediafactory.make_face_clip(tmp_path / "half.mp4", seconds=2.0, fps=12, faceless_frames=range(12, 24))
    upload(alice_client, project, path)
    finding = next(f for f in project.assets.get().preflight if f["code"] == "no_face")
    assert 30 <= finding["params"]["percent"] <= 70


def test_small_face_is_flagged(alice_client, project, tmp_path):
    import cv2
    import numpy as np

    face = cv2.imread(str(mediafactory.make_face_image(tmp_path / "f.png", size=(480, 360))))
    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    canvas[400:760, 700:1180] = face
    path = tmp_path / "far.png"
    cv2.imwrite(str(path), canvas)
    upload(alice_client, project, path)
    assert "small_face" in [f["code"] for f in project.assets.get().preflight]


def test_image_upload(alice_client, project, face_jpg):
    upload(alice_client, project, face_jpg)
    asset = project.assets.get()
    assert asset.kind == Asset.Kind.IMAGE
    assert (asset.width, asset.height) == (320, 240)
    assert "no_face" not in [f["code"] for f in asset.preflight]


def test_several_files_at_once_and_one_bad(alice_client, project, speech_wav, face_clip, tmp_path):
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"this is not a video at all" * 100)
    response = upload(alice_client, project, speech_wav, junk, face_clip)
    results = response.json()["files"]
    assert [r["ok"] for r in results] == [True, False, True]
    assert "notes.mp4" in results[1]["error"]
    assert project.assets.count() == 2


def refused(client, project, path, name=None):
    response = upload(client, project, path, names=[name] if name else None)
    result = response.json()["files"][0]
    assert not result["ok"]
    assert project.assets.count() == 0
    return result["error"]


def test_zero_byte_file_is_refused(alice_client, project, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert refused(alice_client, project, empty) == "empty.wav is empty (0 bytes)."


def test_too_large_file_is_refused(alice_client, project, speech_wav, settings):
    settings.HEYGEM_MAX_UPLOAD_MB = 0
    error = refused(alice_client, project, speech_wav)
    assert "speech.wav is larger than the upload limit of 0 MB" in error


def test_image_renamed_mp4_is_refused(alice_client, project, face_jpg, tmp_path):
    fake = shutil.copy(face_jpg, tmp_path / "lecture.mp4")
    error = refused(alice_client, project, fake)
    assert "lecture.mp4 is really an image file" in error


def test_truncated_mp4_is_refused(alice_client, project, tmp_path):
    clip = mediafactory.make_face_clip(tmp_path / "whole.mp4", seconds=1.0)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    error = refused(alice_client, project, cut)
    assert error.startswith("cut.mp4 is incomplete")


def test_truncated_faststart_mp4_is_refused(alice_client, project, tmp_path, face_clip):
    import av

    faststart = tmp_path / "fast.mp4"
    with av.open(str(face_clip)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    data = faststart.read_bytes()
    cut = tmp_path / "fastcut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    error = refused(alice_client, project, cut)
    assert "fastcut.mp4" in error and ("incomplete" in error or "damaged" in error)


def test_text_file_is_refused(alice_client, project, tmp_path):
    path = tmp_path / "voice.wav"
    path.write_text("RIFF? no, just text")
    assert "voice.wav is not an audio, video or image file that can be read." == refused(alice_client, project, path)


def test_unsupported_extension_is_refused(alice_client, project, speech_wav):
    error = refused(alice_client, project, speech_wav, name="speech.exe")
    assert "“.exe” are not supported" in error


@pytest.mark.parametrize(
    "name,shown",
    [
        ("my lecture 1.wav", "my lecture 1.wav"),
        ("讲座 第一课.wav", "讲座 第一课.wav"),
        ("../../x.wav", "x.wav"),
        ("..\\..\\evil.wav", "evil.wav"),
        ("a" * 300 + ".wav", "a" * 251 + ".wav"),
    ],
)
def test_odd_names_are_display_names_only(alice_client, project, speech_wav, name, shown):
    response = upload(alice_client, project, speech_wav, names=[name])
    assert response.json()["files"][0]["ok"]
    asset = project.assets.get()
    assert asset.original_name == shown
    key = asset.file.name
    assert key.startswith(f"uploads/{project.owner_id}/{project.pk}/")
    assert ".." not in key and " " not in key and key.isascii()
    assert os.path.realpath(asset.file.path).startswith(os.path.realpath(asset.file.storage.location))


def test_same_file_twice_is_recognised(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav)
    result = upload(alice_client, project, speech_wav, names=["again.wav"]).json()["files"][0]
    assert result["ok"] and result["duplicate"]
    assert project.assets.count() == 1


def test_form_post_without_javascript(alice_client, project, speech_wav, tmp_path):
    empty = tmp_path / "zero.wav"
    empty.write_bytes(b"")
    response = upload(alice_client, project, speech_wav, empty, json=False)
    assert response.status_code == 302
    page = alice_client.get(project.get_absolute_url()).content.decode()
    assert "speech.wav uploaded." in page
    assert "zero.wav is empty (0 bytes)." in page


def test_other_member_cannot_upload_or_read(alice_client, bob_client, project, face_clip):
    upload(alice_client, project, face_clip)
    asset = project.assets.get()
    assert upload(bob_client, project, face_clip).status_code == 404
    for name in ("asset", "asset_file", "asset_poster"):
        assert bob_client.get(reverse(f"projects:{name}", args=[asset.pk])).status_code == 404
    assert bob_client.post(reverse("projects:asset_delete", args=[asset.pk])).status_code == 404
    assert Asset.objects.filter(pk=asset.pk).exists()


def test_owner_downloads_original_with_its_name(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav, names=["讲座.wav"])
    asset = project.assets.get()
    response = alice_client.get(reverse("projects:asset_file", args=[asset.pk]) + "?download=1")
    assert response.status_code == 200
    assert body(response) == speech_wav.read_bytes()
    assert "attachment" in response["Content-Disposition"]
    assert "%E8%AE%B2%E5%BA%A7.wav" in response["Content-Disposition"]


def test_range_request_for_players(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav)
    asset = project.assets.get()
    response = alice_client.get(reverse("projects:asset_file", args=[asset.pk]), HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert body(response) == speech_wav.read_bytes()[10:20]


def test_asset_page_shows_facts(alice_client, project, face_clip):
    upload(alice_client, project, face_clip)
    asset = project.assets.get()
    page = alice_client.get(asset.get_absolute_url()).content.decode()
    assert "320×240" in page and "25 fps" in page


def test_delete_asset(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav)
    asset = project.assets.get()
    path = asset.file.path
    alice_client.post(reverse("projects:asset_delete", args=[asset.pk]))
    assert not project.assets.exists()
    assert not os.path.exists(path)


def test_two_people_are_flagged(alice_client, project, tmp_path):
    import cv2
    import numpy as np

    face = cv2.imread(str(mediafactory.make_face_image(tmp_path / "f.png", size=(320, 240))))
    path = tmp_path / "duo.png"
    cv2.imwrite(str(path), np.hstack([face, face]))
    upload(alice_client, project, path)
    assert "several_faces" in [f["code"] for f in project.assets.get().preflight]


def test_variable_frame_rate_is_flagged(alice_client, project, tmp_path):
    upload(alice_client, project, mediafactory.make_vfr_clip(tmp_path / "phone.mp4", seconds=1.0))
    asset = project.assets.get()
    assert asset.variable_frame_rate
    assert "variable_frame_rate" in [f["code"] for f in asset.preflight]
    assert "Variable frame rate" in alice_client.get(asset.get_absolute_url()).content.decode()


def test_constant_frame_rate_is_not_flagged(alice_client, project, face_clip):
    upload(alice_client, project, face_clip)
    assert not project.assets.get().variable_frame_rate


# ---------------------------------------------------------------- phone videos
# Pixels stored sideways, turned by a display matrix (phones) or a rotate tag.


def _poster(client, asset):
    import cv2
    import numpy as np

    data = body(client.get(reverse("projects:asset_poster", args=[asset.pk])))
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("portrait.mp4", dict(rotation=90)),  # landscape pixels, a -90° display matrix
        ("turned.mov", dict(rotation=270)),
        ("tagged.mkv", dict(rotation=90, kind="tag")),
        ("phone_hevc.mp4", dict(rotation=90, hevc10=True)),
    ],
)
def test_phone_video_is_upright_everywhere_at_upload(alice_client, project, tmp_path, name, kwargs):
    if kwargs.get("hevc10") and not mediafactory.hevc_encoder_available():
        pytest.skip("this PyAV build has no libx265 encoder")
    from projects.preflight import find_faces

    clip = mediafactory.make_rotated_clip(tmp_path / name, seconds=0.5, size=(288, 512), **kwargs)
    assert upload(alice_client, project, clip).json()["files"][0]["ok"]
    asset = project.assets.get()
    assert (asset.width, asset.height, asset.rotation) == (288, 512, kwargs["rotation"])
    assert asset.preflight == []  # the face is found; 288 px wide is not "low resolution"
    poster = _poster(alice_client, asset)
    assert poster.shape[1] < poster.shape[0]  # portrait, as played
    assert len(find_faces(poster)) == 1
    page = alice_client.get(asset.get_absolute_url()).content.decode()
    assert "288×512" in page


def test_phone_photo_follows_its_exif_orientation(alice_client, project, tmp_path):
    from projects.preflight import find_faces

    photo = mediafactory.make_rotated_photo(tmp_path / "portrait.jpg", size=(288, 512))
    assert upload(alice_client, project, photo).json()["files"][0]["ok"]
    asset = project.assets.get()
    assert (asset.width, asset.height, asset.rotation) == (288, 512, 90)
    assert asset.preflight == []
    poster = _poster(alice_client, asset)
    assert poster.shape[1] < poster.shape[0] and len(find_faces(poster)) == 1


# ---------------------------------------------------------------- media limits
# Small files that would decode to hours of audio or huge pictures are refused
# from their metadata, quickly, with the limit and the file's value named.


@pytest.fixture(scope="session")
def bomb_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bombs")


def refused_quickly(client, project, path, name=None):
    started = time.monotonic()
    error = refused(client, project, path, name)
    assert time.monotonic() - started < 5
    return error


def test_ten_hours_of_silent_flac_is_refused_from_its_header(alice_client, project, bomb_dir):
    path = bombs.silent_flac(bomb_dir / "speech.flac", seconds=10 * 3600)
    assert path.stat().st_size < 2 * 1024 * 1024
    assert refused_quickly(alice_client, project, path) == "speech.flac is 10:00:00 long; the limit is 1:00:00."


def test_huge_flat_png_is_refused_before_decoding(alice_client, project, bomb_dir):
    path = bombs.flat_png(bomb_dir / "poster.png", 16000, 16000)
    assert path.stat().st_size < 1024 * 1024
    error = refused_quickly(alice_client, project, path)
    assert error == "poster.png is 16000×16000 pixels (256.0 megapixels); the limit is 16.8 megapixels."


def test_four_hour_tiny_video_is_refused(alice_client, project, bomb_dir):
    path = bombs.tiny_video(bomb_dir / "long.mp4", fps=Fraction(1, 60), frames=240)
    assert refused_quickly(alice_client, project, path) == "long.mp4 is 4:00:00 long; the limit is 1:00:00."


def test_video_without_a_stated_duration_is_demuxed_only_up_to_the_limit(alice_client, project, bomb_dir, monkeypatch):
    from projects import probe

    monkeypatch.setattr(probe, "metadata_seconds", lambda container, stream: None)
    path = bombs.tiny_video(bomb_dir / "unstated.mp4", fps=Fraction(1, 60), frames=240)
    assert refused_quickly(alice_client, project, path) == "unstated.mp4 is 4:00:00 long; the limit is 1:00:00."


def test_240_fps_clip_is_refused(alice_client, project, bomb_dir):
    path = bombs.tiny_video(bomb_dir / "fast.mp4", fps=240, frames=120)
    assert refused_quickly(alice_client, project, path) == "fast.mp4 has 240 frames per second; the limit is 120."


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_8000_pixel_wide_image_is_refused(alice_client, project, bomb_dir, suffix):
    import cv2
    import numpy as np

    path = bomb_dir / f"wide{suffix}"
    cv2.imwrite(str(path), np.full((64, 8000, 3), 90, np.uint8))
    error = refused_quickly(alice_client, project, path)
    assert error == f"wide{suffix} is 8000×64 pixels; the limit is 4096 pixels on the longer side."


def test_limits_come_from_the_settings(alice_client, project, speech_wav, face_clip, settings):
    settings.HEYGEM_MAX_MEDIA_SECONDS = 5
    assert refused(alice_client, project, speech_wav) == "speech.wav is 0:00:08 long; the limit is 0:00:05."
    settings.HEYGEM_MAX_FPS = 24
    assert refused(alice_client, project, face_clip) == "presenter.mp4 has 25 frames per second; the limit is 24."
    settings.HEYGEM_MAX_FPS, settings.HEYGEM_MAX_FRAME_SIDE = 120, 300
    error = refused(alice_client, project, face_clip)
    assert error == "presenter.mp4 is 320×240 pixels; the limit is 300 pixels on the longer side."
    settings.HEYGEM_MAX_FRAME_SIDE, settings.HEYGEM_MAX_MEDIA_SECONDS = 4096, 3600
    assert upload(alice_client, project, speech_wav, face_clip).json()["files"][0]["ok"]


def test_preflight_decodes_a_bounded_number_of_frames_per_sample(tmp_path):
    import av

    from projects import probe

    # 60 s with a single key frame: reaching the middle would mean decoding 750 frames.
    path = bombs.tiny_video(tmp_path / "gop.mp4", fps=25, frames=1500, keyframe_interval=100_000)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = probe._frame_near(container, stream, 30.0)
    assert frame.time <= probe.MAX_DECODE_PER_SAMPLE / 25
    assert len(probe.sample_frames(path, 4)) == 4
