"""The voice recording's preflight: what a member learns at upload about audio
that would render badly (silent, too short, clipped, noise, very long)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from projects import audio_preflight
from projects.audio_preflight import check_audio
from projects.preflight import describe
from projects.probe import media_limits, probe
from tests import bombs
from tests.conftest import FIXTURES, encode_audio

RATE = 16000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    samples, rate = soundfile.read(FIXTURES / "speech_en_16k.wav", dtype="float32")
    assert rate == RATE
    return samples


def write(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    soundfile.write(path, samples, rate, subtype=subtype)
    return path


def findings(path: Path) -> list[dict]:
    info = probe(path, path.name, media_limits())
    return check_audio(path, info.duration, media_limits())


def codes(path: Path) -> list[str]:
    return [finding["code"] for finding in findings(path)]


def test_clean_speech_has_no_findings(speech, tmp_path):
    assert findings(write(tmp_path / "voice.wav", speech)) == []


def test_speech_normalised_to_full_scale_is_not_clipping(speech, tmp_path):
    assert findings(write(tmp_path / "voice.wav", speech / np.abs(speech).max(), subtype="FLOAT")) == []


def test_a_limiter_ceiling_just_below_full_scale_is_not_clipping(speech, tmp_path):
    squashed = np.tanh(speech * 8)
    squashed *= 10 ** (-0.1 / 20) / np.abs(squashed).max()
    assert findings(write(tmp_path / "voice.wav", squashed, subtype="FLOAT")) == []


def test_speech_with_audible_hiss_is_still_a_voice(speech, tmp_path):
    hiss = np.random.default_rng(1).normal(0, 0.03, len(speech)).astype(np.float32)
    assert findings(write(tmp_path / "voice.wav", speech + hiss)) == []


def test_compressed_speech_is_clean_speech(speech, tmp_path):
    wav = write(tmp_path / "voice.wav", speech)
    for suffix, codec in ((".mp3", "libmp3lame"), (".m4a", "aac")):
        assert findings(encode_audio(wav, tmp_path / f"voice{suffix}", codec)) == []


@pytest.mark.parametrize("level", [0.0, 10 ** (-55 / 20)])
def test_silence_and_near_silence(level, tmp_path):
    hum = level * np.sin(2 * np.pi * 50 * np.arange(3 * RATE) / RATE)
    [finding] = findings(write(tmp_path / "silent.wav", hum))
    assert finding["code"] == "audio_silent"
    assert describe(finding) == "This recording is silent: the mouth will not move. Check the microphone or the export."


def test_quiet_speech_is_not_silent(speech, tmp_path):
    quiet = speech * 10 ** (-20 / 20)  # 20 dB down: quiet, but a voice
    assert findings(write(tmp_path / "quiet.wav", quiet)) == []


@pytest.mark.parametrize(
    "seconds,message",
    [
        (0.1, "Only 0.10 s long: a render needs at least 0.2 s of audio."),
        (0.3, "Very short (0.30 s): the video will be just as short."),
    ],
)
def test_too_short(speech, tmp_path, seconds, message):
    part = speech[RATE : RATE + int(seconds * RATE)]
    [finding] = findings(write(tmp_path / "short.wav", part))
    assert finding["code"] == "audio_too_short"
    assert describe(finding) == message


def test_half_a_second_is_long_enough(speech, tmp_path):
    assert findings(write(tmp_path / "short.wav", speech[RATE : RATE + RATE // 2 + 160])) == []


@pytest.mark.parametrize("suffix,codec", [(".wav", None), (".mp3", "libmp3lame")])
def test_clipping_gives_the_share_of_samples_at_full_scale(speech, tmp_path, suffix, codec):
    path = write(tmp_path / "loud.wav", np.clip(speech * 8, -1, 1), subtype="FLOAT")
    if codec:  # the decoder's overshoot around the flattened tops is at full scale too
        path = encode_audio(path, tmp_path / f"loud{suffix}", codec)
    [finding] = findings(path)
    assert finding["code"] == "audio_clipping"
    assert 1 < finding["params"]["percent"] < 30
    assert describe(finding).startswith(f"Clipped: {finding['params']['percent']}% of the samples are at full scale")


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_noise_instead_of_a_voice(colour, tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, 3 * RATE)
    if colour == "pink":
        spectrum = np.fft.rfft(noise)
        spectrum[1:] /= np.sqrt(np.fft.rfftfreq(len(noise), 1 / RATE)[1:])
        noise = np.fft.irfft(spectrum, len(noise))
    noise *= 0.1 / noise.std()
    [finding] = findings(write(tmp_path / "hiss.wav", noise))
    assert finding["code"] == "audio_noise"
    assert "noise" in describe(finding)


def test_very_long_recording_is_noted_and_only_its_start_is_decoded(tmp_path, monkeypatch):
    path = bombs.silent_flac(tmp_path / "meeting.flac", seconds=25 * 60, rate=8000)
    decoded = []
    real = audio_preflight.decode_mono

    def counting(*args, **kwargs):
        for chunk, rate in real(*args, **kwargs):
            decoded.append(len(chunk))
            yield chunk, rate

    monkeypatch.setattr(audio_preflight, "decode_mono", counting)
    silent, long = findings(path)
    # Two minutes and at most one more FLAC block, never the other twenty-three.
    assert audio_preflight.ANALYSED_SECONDS * 8000 <= sum(decoded) <= audio_preflight.ANALYSED_SECONDS * 8000 + 65535
    assert silent == {"code": "audio_silent", "params": {"peak_db": None, "analysed": 120}}
    assert describe(silent) == "The first 0:02:00 of this recording are silent: check that it is the right file."
    assert long == {"code": "audio_long", "params": {"seconds": 1500}}
    assert describe(long) == (
        "Long recording (0:25:00): every presenter speaks all of it, so each render takes a while."
    )


def test_twenty_minutes_is_not_long(tmp_path):
    path = bombs.silent_flac(tmp_path / "meeting.flac", seconds=20 * 60, rate=8000)
    assert codes(path) == ["audio_silent"]
