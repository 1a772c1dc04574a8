"""The speech engine (ml.speech) with the bundled eSpeak NG, and the
installed-voice path up to what can be checked without a real neural voice."""

from __future__ import annotations

import wave

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ml.speech import SpeechError, clean_text, list_voices, synthesize
from ml.speech.engine import MAX_CHARS, TARGET_RMS_DB, resolve_voice
from ml.speech.errors import VoiceCorrupt, VoiceNotFound
from ml.speech.neural import install_voice, installed_voices
from ml.speech.text import chunks, script_mismatch

ENGLISH = ("The quick brown fox jumps over the lazy dog. Every lesson starts with a short summary, "
           "and ends with three questions for the class.")
MANDARIN = "今天我们学习新的课文。请大家认真听，然后回答老师的问题。"


def read_wav(path):
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return samples, rate


def voiced_rms_db(samples, rate):
    frames = samples[: len(samples) // (rate // 50) * (rate // 50)].reshape(-1, rate // 50)
    rms = np.sqrt((frames**2).mean(axis=1))
    voiced = rms[rms > rms.max() * 0.1]
    return 20 * np.log10(np.sqrt((voiced**2).mean()))


def test_english_speech_is_as_long_as_the_words_need_and_not_silent(tmp_path):
    out = tmp_path / "en.wav"
    result = synthesize(ENGLISH, "en", out)
    samples, rate = read_wav(out)
    assert result.voice.name == "espeak:en-us" and rate == result.sample_rate
    words_per_minute = len(ENGLISH.split()) / (len(samples) / rate / 60)
    assert 100 < words_per_minute < 260, words_per_minute
    assert voiced_rms_db(samples, rate) == pytest.approx(TARGET_RMS_DB, abs=3)
    assert np.abs(samples).max() <= 10 ** (-1 / 20) + 1e-3  # peaks kept under -1 dBFS


def test_mandarin_speech_has_a_plausible_syllable_rate(tmp_path):
    out = tmp_path / "zh.wav"
    result = synthesize(MANDARIN, "zh", out)
    samples, rate = read_wav(out)
    assert result.voice.name == "espeak:cmn" and result.mismatch is None
    hanzi = sum(1 for ch in MANDARIN if "\u4e00" <= ch <= "\u9fff")
    syllables_per_second = hanzi / (len(samples) / rate)
    assert 2 < syllables_per_second < 8, syllables_per_second
    assert np.abs(samples).max() > 0.1


def test_speed_changes_the_length(tmp_path):
    slow = synthesize(ENGLISH, "en", tmp_path / "slow.wav", speed=0.75).duration
    fast = synthesize(ENGLISH, "en", tmp_path / "fast.wav", speed=1.5).duration
    assert fast < slow * 0.7


def test_a_long_script_is_spoken_in_chunks_joined_without_clicks(tmp_path):
    script = " ".join(f"This is sentence number {i} of a long lesson script." for i in range(40))
    steps = []
    result = synthesize(script, "en", tmp_path / "long.wav", progress=lambda done, total: steps.append((done, total)))
    samples, rate = read_wav(tmp_path / "long.wav")
    assert len(steps) > 1 and steps[-1][0] == steps[-1][1] == len(chunks(clean_text(script).text))
    assert result.duration > 60
    # At a joint the signal fades to zero: no sample-to-sample jump larger
    # than the speech itself makes (a click is a jump of most of full scale).
    assert np.abs(np.diff(samples)).max() < 0.5
    assert abs(samples[0]) < 1e-3 and abs(samples[-1]) < 1e-3


def test_unsupported_characters_are_reported_not_silently_dropped():
    cleaned = clean_text("Hello\u00a0\u00a0world 🎉🎉 \x07 and   goodbye.\r\n\r\n\r\n\r\nNext 😀")
    assert cleaned.text == "Hello world and goodbye.\n\nNext"
    assert cleaned.unsupported[0] == "🎉" and set(cleaned.unsupported) == {"🎉", "\x07", "😀"}


def test_the_result_names_what_was_left_out(tmp_path):
    result = synthesize("Welcome to the course 🎓.", "en", tmp_path / "x.wav")
    assert result.unsupported == ["🎓"]


def test_chinese_text_to_an_english_voice_is_flagged(tmp_path):
    assert script_mismatch(MANDARIN, "en-us") == "han"
    assert script_mismatch("Hello and welcome", "cmn") == "latin"
    assert script_mismatch("Hello, 你好 is hello in Chinese", "en") is None  # mixed: no obvious mismatch
    assert synthesize(MANDARIN, "en", tmp_path / "x.wav").mismatch == "han"


def test_chunks_split_at_sentences_and_never_exceed_the_limit():
    text = "One. Two! Three? " + "x" * 900 + " 四。五！"
    parts = chunks(text, limit=100)
    assert parts[0] == "One. Two! Three?"
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "kwargs", "code"),
    [
        ("x" * (MAX_CHARS + 1), {}, "too_long"),
        ("🎉 … !!", {}, "empty"),
        ("Hello", {"speed": 3.0}, "bad_speed"),
        ("Hello", {"language": "xx-nowhere"}, "voice_not_found"),
        ("Hello", {"voice": "no-such-voice"}, "voice_not_found"),
    ],
)
def test_bad_requests_say_what_is_wrong(tmp_path, text, kwargs, code):
    language = kwargs.pop("language", "en")
    with pytest.raises(SpeechError) as err:
        synthesize(text, language, tmp_path / "x.wav", model_dir=tmp_path, **kwargs)
    assert err.value.code == code and str(err.value)
    assert not (tmp_path / "x.wav").exists()


def test_the_bundled_voices_include_english_mandarin_and_cantonese():
    names = {v.name for v in list_voices(None)}
    assert {"espeak:en-us", "espeak:en-gb", "espeak:cmn", "espeak:yue", "espeak:de", "espeak:fr-fr"} <= names
    assert resolve_voice("fr", None, None).name == "espeak:fr-fr"  # a bare language finds its regional voice


# --- installed (neural) voices: everything short of speaking with a real one ---


def write_tokens(folder):
    (folder / "tokens.txt").write_text("_ 0\n^ 1\n$ 2\na 3\n")


def vits_shaped_onnx(path, inputs=("x", "x_length")):
    """An ONNX graph with a VITS voice's input names. It is NOT a voice
    (it speaks nothing); it only lets installing and listing be checked."""
    x = helper.make_tensor_value_info(inputs[0], TensorProto.INT64, [1, None])
    length = helper.make_tensor_value_info(inputs[1], TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [1, None])
    graph = helper.make_graph([helper.make_node("Identity", [inputs[0]], ["y"])], "g", [x, length], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_a_missing_voice_file_is_named(tmp_path):
    with pytest.raises(VoiceNotFound, match="missing"):
        install_voice(tmp_path / "nothing.onnx", tmp_path / "models", language="en-us")


def test_a_corrupt_voice_file_is_refused_and_nothing_is_installed(tmp_path):
    source = tmp_path / "voice"
    source.mkdir()
    (source / "en_US-test.onnx").write_bytes(b"\x08\x07garbage, not a protobuf" * 50)
    write_tokens(source)
    with pytest.raises(VoiceCorrupt, match="not a loadable ONNX voice"):
        install_voice(source, tmp_path / "models", language="en-us")
    assert installed_voices(tmp_path / "models") == []
    assert not list((tmp_path / "models").rglob("*.onnx"))


def test_an_onnx_model_that_is_not_a_voice_is_refused(tmp_path):
    model = vits_shaped_onnx(tmp_path / "other.onnx", inputs=("pixels", "size"))
    write_tokens(tmp_path)
    with pytest.raises(VoiceCorrupt, match="not a VITS/Piper voice"):
        install_voice(model, tmp_path / "models", language="en-us")


def test_a_broken_token_list_is_refused(tmp_path):
    model = vits_shaped_onnx(tmp_path / "v.onnx")
    (tmp_path / "tokens.txt").write_text("this is not a token list\n")
    with pytest.raises(VoiceCorrupt, match="token list"):
        install_voice(model, tmp_path / "models", language="en-us")


def test_an_installed_voice_is_listed_with_its_language_and_removed_files_are_named(tmp_path):
    import json

    model = vits_shaped_onnx(tmp_path / "en_US-lessons-medium.onnx")
    write_tokens(tmp_path)
    (tmp_path / "en_US-lessons-medium.onnx.json").write_text(
        json.dumps({"espeak": {"voice": "en-us"}, "sample_text": "Hello"}))
    models = tmp_path / "models"
    voice = install_voice(model, models)
    assert (voice.name, voice.language, voice.sample_text) == ("en_US-lessons-medium", "en-us", "Hello")
    listed = [v for v in list_voices(models) if v.engine == "neural"]
    assert [(v.name, v.language) for v in listed] == [("en_US-lessons-medium", "en-us")]
    (voice.folder / "model.onnx").unlink()
    with pytest.raises(VoiceNotFound, match="missing"):
        synthesize("Hello", "en", tmp_path / "x.wav", voice="en_US-lessons-medium", model_dir=models)


def test_a_voice_without_a_known_language_is_refused(tmp_path):
    model = vits_shaped_onnx(tmp_path / "v.onnx")
    write_tokens(tmp_path)
    with pytest.raises(SpeechError, match="which language"):
        install_voice(model, tmp_path / "models")


def test_every_bundled_voice_in_the_picker_speaks(tmp_path):
    # Regional codes ("en-gb") are not eSpeak voice names: the engine must find each voice by its file.
    silent = []
    for voice in list_voices(None):
        try:
            result = synthesize("Hello, 1 2 3.", "", tmp_path / "x.wav", voice=voice.name)
        except SpeechError as err:
            silent.append(f"{voice.name}: {err}")
            continue
        if result.duration < 0.3:
            silent.append(f"{voice.name}: {result.duration:.2f} s")
    assert silent == []
