"""Opening video files with PyAV, with the errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import av
import av.container
import av.video.stream
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

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


# Accurate rounding and full-resolution chroma make the RGB round trip nearly lossless, so the
# re-encoded picture is no noisier than the source: measured here, that kept x264's speed and
# file size at those of a plain ffmpeg transcode, where the defaults cost 20 % of both.
_FLAGS = (Interpolation.BILINEAR | Interpolation.ACCURATE_RND
          | Interpolation.FULL_CHR_H_INT | Interpolation.FULL_CHR_H_INP)
_FAST_FLAGS = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT
# Matrix codes (ISO/IEC 23091-2) a decoder reports in `frame.colorspace`.
_MATRICES = {1: Colorspace.ITU709, 5: Colorspace.ITU601, 6: Colorspace.SMPTE170M,
             7: Colorspace.SMPTE240M, 9: Colorspace.BT2020, 10: Colorspace.BT2020}
# What doppel writes: BT.601 (SMPTE 170M), tagged, the matrix swscale converts fastest with.
WRITE_MATRIX = 6


class RgbConverter:
    """Converts decoded frames to RGB and RGB to yuv420p, reusing one swscale context each."""

    def __init__(self, exact: bool = True) -> None:
        self._to_rgb = VideoReformatter()
        self._to_yuv = VideoReformatter()
        # Accurate rounding costs ~5 ms a 720p frame; without it values may be 1 level off,
        # which matters when the picture is re-encoded, not when it is only looked at.
        self._read_flags = _FLAGS if exact else _FAST_FLAGS

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB uint8 HxWx3 as stored (not yet rotated), using the matrix the frame is tagged
        with; untagged video is taken as BT.601, as FFmpeg does."""
        full_range = frame.color_range == 2
        rgb = self._to_rgb.reformat(
            frame, format="rgb24", interpolation=self._read_flags,
            src_colorspace=_MATRICES.get(frame.colorspace, Colorspace.ITU601),
            src_color_range=ColorRange.JPEG if full_range else ColorRange.MPEG,
        )
        return rgb.to_ndarray()

    def to_yuv(self, rgb: np.ndarray) -> av.VideoFrame:
        """yuv420p, limited range, BT.601 matrix, from C-contiguous RGB uint8 HxWx3."""
        frame = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(rgb), format="rgb24")
        return self._to_yuv.reformat(
            frame, format="yuv420p", interpolation=_FLAGS, dst_colorspace=Colorspace.ITU601,
            dst_color_range=ColorRange.MPEG,
        )
