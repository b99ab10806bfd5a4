"""Opening video files with PyAV, with the errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import av
import av.container
import av.video.stream
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from doppel.errors import DoppelError
from doppel.types import PixelBox, Yuv420


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
# Decoded pictures kept as stored (Yuv420), by the matrix a frame is tagged with: BT.709, and
# BT.601 under its two codes or untagged (which FFmpeg, and to_rgb, take as BT.601).
_KEPT = {1: 1, 2: 6, 5: 6, 6: 6}


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

    def to_yuv(self, rgb: np.ndarray, matrix: int = WRITE_MATRIX) -> av.VideoFrame:
        """yuv420p, limited range, with `matrix` (a code of _MATRICES), from RGB uint8
        HxWx3 of even width and height."""
        frame = av.VideoFrame.from_numpy_buffer(np.ascontiguousarray(rgb), format="rgb24")
        return self._to_yuv.reformat(
            frame, format="yuv420p", interpolation=_FLAGS, dst_colorspace=_MATRICES[matrix],
            dst_color_range=ColorRange.MPEG,
        )


def patch_yuv(yuv: Yuv420, rgb: np.ndarray, boxes: list[PixelBox]) -> None:
    """Write the pixels of `rgb` (the same picture's RGB, HxWx3) inside each box (x0, y0, x1,
    y1; widened to even edges, as 4:2:0 chroma pairs pixels) into `yuv`'s planes, in place;
    everything outside the boxes stays exactly as stored."""
    height, width = rgb.shape[:2]
    y, u, v = yuv_planes(yuv.planes)
    for x0, y0, x1, y1 in boxes:
        x0, y0 = max(x0, 0) & ~1, max(y0, 0) & ~1
        x1, y1 = min(x1 + (x1 & 1), width), min(y1 + (y1 & 1), height)
        if x1 <= x0 or y1 <= y0:
            continue
        ry, ru, rv = rgb_to_yuv420(rgb[y0:y1, x0:x1], yuv.matrix)
        y[y0:y1, x0:x1] = ry
        u[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = ru
        v[y0 // 2:y1 // 2, x0 // 2:x1 // 2] = rv


def rgb_to_yuv420(rgb: np.ndarray, matrix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Limited-range Y (H x W) and U, V ((H/2) x (W/2), each the mean of its 2x2 pixels) of
    RGB uint8 HxWx3 (even sides) with `matrix` (1: BT.709, else BT.601). For the small boxes
    `patch_yuv` rewrites: swscale builds a new context for every new box size (~6 ms a
    300-px face at 720p, measured), this takes a fraction of a millisecond."""
    import cv2

    red, blue = (0.2126, 0.0722) if matrix == 1 else (0.299, 0.114)
    green = 1.0 - red - blue
    luma = np.array([red, green, blue])
    # rows: Y, U (from B - Y), V (from R - Y), limited range, with their offsets
    weights = np.stack([219 / 255 * luma,
                        224 / 255 * (np.array([0.0, 0.0, 1.0]) - luma) / (2 * (1 - blue)),
                        224 / 255 * (np.array([1.0, 0.0, 0.0]) - luma) / (2 * (1 - red))])
    transform = np.hstack([weights, [[16.0], [128.0], [128.0]]]).astype(np.float32)
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    luma_plane = cv2.transform(rgb, transform[:1])  # uint8 in and out: rounded, saturated
    means = cv2.resize(rgb.astype(np.float32), (width // 2, height // 2),
                       interpolation=cv2.INTER_AREA)
    chroma = np.clip(np.rint(cv2.transform(means, transform[1:])), 0, 255).astype(np.uint8)
    return luma_plane, chroma[:, :, 0], chroma[:, :, 1]


def stored_yuv(frame: av.VideoFrame) -> Yuv420 | None:
    """`frame`'s planes as stored (a copy), when it is 8-bit 4:2:0, limited range, of even
    size, upright and of a matrix doppel writes back (BT.601 or BT.709); else None."""
    if (frame.format.name != "yuv420p" or frame.color_range == 2 or frame.width % 2
            or frame.height % 2 or rotation_of(frame) or frame.colorspace not in _KEPT):
        return None
    return Yuv420(frame.to_ndarray(), _KEPT[frame.colorspace])


def yuv_planes(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y (H x W), U and V ((H/2) x (W/2)) planes of I420 `planes` ((3H/2) x W)."""
    height, width = planes.shape[0] * 2 // 3, planes.shape[1]
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    return planes[:height], chroma[0], chroma[1]
