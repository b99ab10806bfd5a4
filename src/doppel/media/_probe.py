"""What a media file holds: size, exact frame rate, frame count, duration, audio, rotation."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from doppel.errors import DoppelError
from doppel.media._formats import Kind, classify, list_images
from doppel.media._image import read_image
from doppel.media._video import open_video, rotation_of


@dataclass(frozen=True)
class MediaInfo:
    """Facts about a video, an image or a directory of images.

    width, height: display size in pixels, after rotation.
    fps: exact average frame rate (e.g. 30000/1001); None for images.
    variable_rate: True when frame durations differ by more than the time-base rounding.
    frame_count: frames a full read yields (1 for an image, the image count for a directory).
    duration: seconds, exact, from the first frame's start to the last frame's end.
    rotation: degrees counter-clockwise the stored picture is turned for display.
    """

    path: Path
    kind: Kind
    width: int
    height: int
    fps: Fraction | None
    variable_rate: bool
    frame_count: int
    duration: Fraction | None
    has_audio: bool
    rotation: int
    codec: str | None


def probe(path: Path) -> MediaInfo:
    """Describe `path` (video file, image file or directory of images)."""
    path = Path(path)
    kind = classify(path)
    if kind == "video":
        return _probe_video(path)
    first = list_images(path)[0] if kind == "directory" else path
    rgb = read_image(first)
    count = len(list_images(path)) if kind == "directory" else 1
    return MediaInfo(path, kind, rgb.shape[1], rgb.shape[0], None, False, count, None, False, 0, None)


def _probe_video(path: Path) -> MediaInfo:
    container, stream = open_video(path)
    with container:
        codec = stream.codec_context.name
        has_audio = bool(container.streams.audio)
        pts, last_duration = _scan_timestamps(container, stream)
        if len(pts) == 0:
            raise DoppelError(f"{path} has no video frames: give a video with at least one frame")
        width, height, rotation = _first_frame_geometry(path, stream)
        time_base = stream.time_base or Fraction(1, 1)
        fps, variable = _frame_rate(pts, time_base, stream)
        span = int(pts[-1] - pts[0]) + (last_duration or 0)
        duration = span * time_base if last_duration else Fraction(len(pts)) / fps
    if rotation in (90, 270):
        width, height = height, width
    return MediaInfo(
        path, "video", width, height, fps, variable, len(pts), duration, has_audio, rotation, codec
    )


def _scan_timestamps(container, stream) -> tuple[np.ndarray, int]:
    """Sorted presentation timestamps of every video packet, read without decoding."""
    stamps: list[int] = []
    last_duration = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            stamps.append(packet.pts)
            last_duration = packet.duration or 0
    except av.error.FFmpegError:
        pass  # a truncated file: count what could be read
    stamps.sort()
    return np.asarray(stamps, dtype=np.int64), last_duration


def _frame_rate(pts: np.ndarray, time_base: Fraction, stream) -> tuple[Fraction, bool]:
    """Exact frame rate, and whether frame durations vary beyond rounding to the time base."""
    guess = stream.base_rate or stream.average_rate or stream.guessed_rate
    if len(pts) < 2:
        return (Fraction(guess) if guess else Fraction(25)), False
    steps = np.diff(pts)
    spread = int(steps.max() - steps.min())
    # Containers store times rounded to their time base (1 ms in Matroska), so constant-rate
    # video shows steps that differ by one tick; only more than that is a variable rate.
    variable = spread > 1 and spread * time_base > Fraction(11, 10000)
    mean = Fraction(int(pts[-1] - pts[0]), len(pts) - 1) * time_base
    measured = 1 / mean if mean else Fraction(25)
    if guess and abs(float(Fraction(guess)) / float(measured) - 1) < 0.002:
        # The container's nominal rate (e.g. 30000/1001) agrees with the timestamps: it is
        # exact, whereas the measured mean carries time-base rounding.
        return Fraction(guess), variable
    return measured.limit_denominator(1_000_000), variable


def _first_frame_geometry(path: Path, stream) -> tuple[int, int, int]:
    """Stored width, height and the rotation from the display matrix of the first frame."""
    container, first_stream = open_video(path)
    with container:
        try:
            for frame in container.decode(first_stream):
                return frame.width, frame.height, rotation_of(frame)
        except av.error.FFmpegError:
            pass
    return stream.codec_context.width, stream.codec_context.height, 0
