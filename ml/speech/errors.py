from __future__ import annotations


class SpeechError(Exception):
    """A speech request that cannot be served; `code` is stable, the message is for people."""

    code = "speech_error"

    def __init__(self, message: str, code: str | None = None, **params):
        super().__init__(message)
        if code:
            self.code = code
        self.params = params


class VoiceNotFound(SpeechError):
    code = "voice_not_found"


class VoiceCorrupt(SpeechError):
    code = "voice_corrupt"
