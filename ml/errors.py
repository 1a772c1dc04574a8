"""Errors the engine raises for bad input or a bad installation.

Each error carries a stable ``code`` (for translated messages in the platform)
and a short English ``message`` for the user; neither contains a traceback.
"""

from __future__ import annotations


class LipSyncError(Exception):
    """Base class. ``str(err)`` is the user-facing message."""

    code = "lipsync_error"
    default_message = "The lip-sync render failed."

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "details": dict(self.details)}


class AudioTooShort(LipSyncError):
    code = "audio_too_short"
    default_message = "The audio is too short: at least 0.2 seconds are needed."


class SilentAudio(LipSyncError):
    code = "silent_audio"
    default_message = "The audio is silent: there is no voice to lip-sync to."


class NoAudioStream(LipSyncError):
    code = "no_audio_stream"
    default_message = "The file has no audio that can be decoded."


class NoVideoStream(LipSyncError):
    code = "no_video_stream"
    default_message = "The face file has no video or image that can be decoded."


class CorruptMedia(LipSyncError):
    code = "corrupt_media"
    default_message = "The media file is damaged or in a format that cannot be read."


class NoFaceFound(LipSyncError):
    code = "no_face_found"
    default_message = "No face was found in the video."


class BadBox(LipSyncError):
    code = "bad_box"
    default_message = "The fixed face box lies outside the video frame or is empty."


class CheckpointError(LipSyncError):
    code = "checkpoint_error"
    default_message = "The model checkpoint is not a valid Wav2Lip checkpoint."


class CheckpointCorrupt(CheckpointError):
    code = "checkpoint_corrupt"
    default_message = "The model checkpoint is truncated or corrupt: download it again."


class ModelNotInstalled(LipSyncError):
    code = "model_not_installed"
    default_message = "The Wav2Lip model is not installed."


class RenderCancelled(LipSyncError):
    code = "render_cancelled"
    default_message = "The render was cancelled."


class OutputError(LipSyncError):
    code = "output_error"
    default_message = "The output video could not be written."
