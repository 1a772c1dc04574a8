from fractions import Fraction
from pathlib import Path

import mediafactory as mf
import numpy as np
import pytest

from ml import audio
from ml.audio import AudioFeatures, mel_chunk_starts, output_frame_count, reference_frame_count
from ml.errors import AudioTooShort, CorruptMedia, NoAudioStream, SilentAudio

NTSC = Fraction(30000, 1001)


def test_mel_of_a_one_second_tone_has_81_frames_in_range(tmp_path):
    feats = AudioFeatures.from_file(mf.make_tone(tmp_path / "a.wav", 1.0, 440.0, 16000))
    assert feats.mel.shape == (80, 81)
    assert feats.mel.dtype == np.float32
    assert feats.mel.min() >= -4.0 and feats.mel.max() <= 4.0
    assert feats.samples == 16000 and feats.duration == 1.0
    # 440 Hz sits in one mel band: that band is loud, the top bands are floor.
    band = int(np.argmax(feats.mel[:, 40]))
    assert 10 <= band <= 25
    assert feats.mel[band, 40] > 0.5
    assert feats.mel[70:, 40].max() < -3.0


def test_mel_uses_reflect_padding_like_the_reference():
    import librosa

    rng = np.random.default_rng(1)
    wav = (0.1 * rng.standard_normal(4000)).astype(np.float32)
    ours = audio.melspectrogram(wav)
    from scipy.signal import lfilter

    pre = lfilter([1, -0.97], [1], wav)
    spec = np.abs(librosa.stft(y=pre, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600) @ spec
    ref = np.clip(8 * (20 * np.log10(np.maximum(1e-5, mel)) - 20 + 100) / 100 - 4, -4, 4)
    assert ours.shape == (80, 1 + 4000 // 200)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@pytest.mark.parametrize(
    "fps, frames",
    [(24, 69), (25, 72), (NTSC, 86), (30, 86), (60, 171)],
)
def test_reference_frame_counts_for_three_seconds(fps, frames):
    T = 1 + 48000 // 200
    assert T == 241
    assert reference_frame_count(T, fps) == frames
    starts = mel_chunk_starts(T, fps)
    assert len(starts) == frames
    assert starts[-1] == T - 16  # the last frame takes mel[:, T-16:]
    assert np.all(starts[:-1] + 16 <= T)


def test_chunk_starts_follow_int_i_times_80_over_fps():
    starts = mel_chunk_starts(241, 25)
    assert starts[:5].tolist() == [0, 3, 6, 9, 12]
    ntsc = mel_chunk_starts(241, NTSC)
    assert ntsc[:6].tolist() == [int(i * 80 / (30000 / 1001)) for i in range(6)] == [0, 2, 5, 8, 10, 13]
    assert mel_chunk_starts(241, 24)[:4].tolist() == [0, 3, 6, 10]
    assert mel_chunk_starts(241, 60)[:4].tolist() == [0, 1, 2, 4]


@pytest.mark.parametrize("fps", [24, 25, NTSC, 30, 60])
def test_output_covers_the_audio_within_one_frame(fps):
    samples = 48000
    n = output_frame_count(samples, 241, fps)
    video = n / Fraction(fps)
    assert 3 <= video < 3 + 1 / Fraction(fps)
    starts = mel_chunk_starts(241, fps, n)
    assert len(starts) == n and starts.max() == 241 - 16


def test_chunks_are_80_by_16_slices():
    mel = np.arange(80 * 30, dtype=np.float32).reshape(80, 30)
    chunks = audio.mel_chunks(mel, np.array([0, 14]))
    assert chunks.shape == (2, 80, 16)
    np.testing.assert_array_equal(chunks[1], mel[:, 14:30])


def test_too_short_audio_is_refused(tmp_path):
    with pytest.raises(AudioTooShort) as err:
        AudioFeatures.from_file(mf.make_tone(tmp_path / "s.wav", 0.15))
    assert err.value.code == "audio_too_short"
    AudioFeatures.from_file(mf.make_tone(tmp_path / "ok.wav", 0.2))


def test_silent_audio_is_refused(tmp_path):
    with pytest.raises(SilentAudio):
        AudioFeatures.from_file(mf.make_silence(tmp_path / "z.wav", 1.0))


def test_file_without_audio_is_refused(tmp_path):
    clip = mf.make_face_clip(tmp_path / "v.mp4", seconds=0.2)
    with pytest.raises(NoAudioStream):
        AudioFeatures.from_file(clip)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises((CorruptMedia, NoAudioStream)):
        AudioFeatures.from_file(junk)


def _encode(path, codec, fmt, sr=44100, seconds=1.0, layout="stereo"):
    import av

    t = np.arange(int(sr * seconds)) / sr
    data = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * (2 if layout == "stereo" else 1))
    with av.open(str(path), "w", format=fmt) as out:
        st = out.add_stream(codec, rate=sr)
        st.layout = layout
        sfmt = st.codec_context.codec.audio_formats[0].name
        frame = av.AudioFrame.from_ndarray(data.astype(np.float32), format="fltp", layout=layout)
        frame.sample_rate = sr
        res = av.AudioResampler(format=sfmt, layout=layout, rate=sr)
        for f in res.resample(frame) + res.resample(None):
            for pkt in st.encode(f):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return path


@pytest.mark.parametrize(
    "name, codec, fmt, sr",
    [
        ("a.mp3", "libmp3lame", "mp3", 44100),
        ("a.flac", "flac", "flac", 22050),
        ("a.ogg", "libopus", "ogg", 48000),
        ("a.m4a", "aac", "mp4", 44100),
    ],
)
def test_common_formats_decode_to_16k_mono(tmp_path, name, codec, fmt, sr):
    feats = AudioFeatures.from_file(_encode(tmp_path / name, codec, fmt, sr))
    assert abs(feats.duration - 1.0) < 0.03  # priming and padding are dropped
    band = int(np.argmax(feats.mel[:, feats.n_mel // 2]))
    assert 10 <= band <= 25  # still a 440 Hz tone


def test_audio_track_of_a_video(tmp_path):
    clip = mf.make_face_clip(tmp_path / "v.mp4", seconds=0.6, with_audio=True)
    feats = AudioFeatures.from_file(clip)
    assert abs(feats.duration - 0.6) < 0.02


def test_22k_speech_is_resampled_to_16k_with_the_same_duration():
    import soundfile

    info = soundfile.info(str(_fixture("speech_zh_22k.wav")))
    feats = AudioFeatures.from_file(_fixture("speech_zh_22k.wav"))
    assert abs(feats.duration - info.frames / info.samplerate) < 1e-3
    assert feats.mel.shape == (80, 1 + feats.samples // 200)


def _fixture(name):
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "fixtures" / name


def test_features_save_and_load_roundtrip(tmp_path, speech_1s):
    feats = AudioFeatures.from_file(speech_1s)
    assert len(feats.sha256) == 64 and feats.source == str(speech_1s)
    path = feats.save(tmp_path / "speech.npz")
    back = AudioFeatures.load(path)
    np.testing.assert_array_equal(back.mel, feats.mel)
    assert (back.samples, back.sha256, back.source) == (feats.samples, feats.sha256, feats.source)
    assert back.duration == feats.duration


def test_mel_in_blocks_is_the_whole_signal_mel():
    """Streamed in any chunks, the mel is the same numbers; past one block
    (25 s) it stays within the last bit of the one-shot reference formula."""
    import librosa
    from scipy.signal import lfilter

    rng = np.random.default_rng(2)
    wav = (0.1 * rng.standard_normal(16000 * 60 + 123)).astype(np.float32)
    stream = audio.MelStream()
    for start in range(0, len(wav), 1537):  # odd chunks, as a decoder delivers them
        stream.feed(wav[start : start + 1537])
    chunked = stream.finish()
    np.testing.assert_array_equal(chunked, audio.melspectrogram(wav))
    assert chunked.shape == (80, 1 + len(wav) // 200)

    pre = lfilter([1, -0.97], [1], wav.astype(np.float64)).astype(np.float32)
    spec = np.abs(librosa.stft(y=pre, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel = audio._mel_basis() @ spec
    ref = np.clip(8 * ((20 * np.log10(np.maximum(1e-5, mel)) - 20) + 100) / 100 - 4, -4, 4).astype(np.float32)
    assert np.abs(chunked - ref).max() <= 2e-6
    short = wav[: audio.MelStream.BLOCK * 200 - 1]  # one block: bit for bit
    np.testing.assert_array_equal(audio.melspectrogram(short), audio.melspectrogram(short.copy()))


def test_audio_over_the_duration_limit_is_refused_from_its_metadata(tmp_path):
    import time

    from ml.limits import MediaLimits, MediaOverLimit
    from tests import bombs

    path = bombs.silent_flac(tmp_path / "night.flac", seconds=2 * 3600)
    started = time.monotonic()
    with pytest.raises(MediaOverLimit) as err:
        AudioFeatures.from_file(path, limits=MediaLimits(max_seconds=3600))
    assert time.monotonic() - started < 1
    assert err.value.code == "media_over_limit"
    assert str(err.value) == "night.flac is 2:00:00 long; the limit is 1:00:00."


def test_decoding_stops_at_the_limit_when_the_metadata_states_no_duration(tmp_path, monkeypatch):
    from ml.limits import MediaLimits, MediaOverLimit

    monkeypatch.setattr(audio, "metadata_seconds", lambda container, stream: None)
    path = mf.make_tone(tmp_path / "tone.wav", 3.0)
    with pytest.raises(MediaOverLimit) as err:
        AudioFeatures.from_file(path, limits=MediaLimits(max_seconds=2))
    assert str(err.value) == "tone.wav is longer than 0:00:02, the limit."
    assert AudioFeatures.from_file(path, limits=MediaLimits(max_seconds=3)).samples == 48000


def test_mel_basis_and_stft_are_librosas_bit_for_bit_without_importing_it():
    """The engine computes the reference's mel basis and STFT itself (librosa's
    import cost about 1.5 s of every start-up); the numbers are librosa's."""
    import subprocess
    import sys

    import librosa

    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    np.testing.assert_array_equal(audio.mel_filterbank(), basis)
    assert audio.mel_filterbank().dtype == np.float32
    rng = np.random.default_rng(5)
    for n in (800, 801, 1000, 16000 * 3 + 7, 200 * 300 + 800):  # one frame .. several STFT blocks
        y = (0.1 * rng.standard_normal(n)).astype(np.float32)
        ref = np.abs(librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, center=False))
        ours = audio.stft_magnitude(y)
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
    from scipy.signal import get_window, lfilter

    np.testing.assert_array_equal(audio._hann_periodic(800), get_window("hann", 800, fftbins=True))
    x = (0.1 * rng.standard_normal(5000)).astype(np.float32)
    ref, zi = lfilter([1.0, -0.97], [1.0], x.astype(np.float64), zi=np.zeros(1))
    first, carry = audio.preemphasis(x[:1234])
    rest, carry = audio.preemphasis(x[1234:], carry)  # chunked, as a decoder delivers them
    np.testing.assert_array_equal(np.concatenate([first, rest]), ref)
    assert carry == zi[0]
    # A render's audio stack imports neither librosa (nor numba through it) nor scipy.signal.
    code = (
        "import sys, numpy as np; from ml import audio; audio.melspectrogram(np.ones(4000, np.float32) * 0.1);"
        " print('librosa' in sys.modules, 'numba' in sys.modules, 'scipy.signal' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert out == ["False", "False", "False"]
