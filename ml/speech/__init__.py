"""Text to speech: the bundled eSpeak NG engine and admin-installed neural
(VITS/Piper ONNX) voices. No Django imports; `python -m ml.speech` speaks a
file. Heavy libraries (ctypes-loaded libespeak-ng, sherpa-onnx) load on first
use, never at import."""

from .engine import SpeechResult, list_voices, synthesize
from .errors import SpeechError
from .text import CleanText, clean_text

__all__ = ["CleanText", "SpeechError", "SpeechResult", "clean_text", "list_voices", "synthesize"]
