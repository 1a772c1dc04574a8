"""Why a render failed, in the user's language.

Workers store an error code (and the engine's English message); pages turn the
code into a translated sentence here.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def error_text(code: str, fallback: str = "", *, image: bool = False) -> str:
    """`image`: the presenter is a photo, which the sentences must not call a video."""
    if image and code == "no_face_found":
        return _("No face was found in this image. Use a photo where the presenter's face is clearly visible.")
    messages = {
        "audio_too_short": _("The audio is too short: at least 0.2 seconds are needed."),
        "silent_audio": _("The audio is silent: there is no voice to lip-sync to."),
        "no_audio_stream": _("The audio file has no sound that can be decoded."),
        "no_video_stream": _("The presenter file has no video or image that can be decoded."),
        "corrupt_media": _("The presenter video or the audio is damaged or in a format that cannot be read."),
        "no_face_found": _("No face was found in this video. Use a video where the presenter's face is clearly visible."),
        "bad_box": _("The fixed face box lies outside the video frame."),
        "checkpoint_error": _("The installed lip-sync model is not a valid Wav2Lip checkpoint."),
        "checkpoint_corrupt": _("The installed lip-sync model file is damaged: install it again."),
        "model_not_installed": _("The lip-sync model is not installed. An administrator can install it with: manage.py install_models --from FILE"),
        "output_error": _("The output video could not be written (is the disk full?)."),
        "worker_lost": _("The worker stopped while rendering (it may have run out of memory). Retry the item."),
        "job_lost": _("The render job was lost from the queue. Retry the item."),
        "media_over_limit": _(
            "An input of this render is over this server's media limits (length, frame size, frame rate or "
            "picture size). Use a shorter or smaller file."
        ),
        "queue_unavailable": _(
            "The queue server was briefly unreachable while this item was rendering. Nothing was lost: retry the item."
        ),
        "storage_unavailable": _(
            "The file storage (bucket) was briefly unreachable while this item was rendering. Nothing was lost: "
            "retry the item."
        ),
        "missing_input": _("An input file of this render has been deleted."),
        "internal": _("Something went wrong inside the renderer. Retry the item; if it fails again, tell an "
                      "administrator (the details are in the server log)."),
    }
    return messages.get(code, fallback or messages["internal"])
