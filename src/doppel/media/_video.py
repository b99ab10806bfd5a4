"""Opening video files with PyAV, with the errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import av
import av.container
import av.video.stream

from doppel.errors import DoppelError


def open_video(
    path: Path,
) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open `path` for decoding and return it with its first video stream."""
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise DoppelError(
            f"cannot open video {path}: the file is corrupt, empty or not a video ({error})"
        ) from None
    if not container.streams.video:
        audio_only = bool(container.streams.audio)
        container.close()
        what = "it holds only audio" if audio_only else "it has no video stream"
        raise DoppelError(f"{path} cannot be used as a video: {what}; give a video file")
    return container, container.streams.video[0]


def rotation_of(frame: av.VideoFrame) -> int:
    """Counter-clockwise display rotation of a decoded frame, snapped to 0/90/180/270."""
    return int(round((frame.rotation or 0) / 90.0)) % 4 * 90
