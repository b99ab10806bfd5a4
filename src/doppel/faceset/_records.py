"""What a faceset holds per face and per track, and how its arrays are stored in SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt



@dataclass(frozen=True, eq=False)
class FaceRecord:
    """One aligned face and where it came from.

    source_path: the file the face was cut from, as extract was given it.
    source_hash: sha256 (hex) of that file's bytes; with `frame` and `track` it names the face:
    a faceset holds at most one face per (source_hash, frame, track).
    frame: index of the frame in the source, from 0 (0 for a still image).
    pts: the frame's exact presentation time in seconds; None for stills.
    box: x0, y0, x1, y1 in source pixels (pixel (row i, col j) has its centre at x=j, y=i).
    landmarks: float32 (N, 2) the detector's own points in source pixels (478 mediapipe, 68 dlib).
    points68: float32 (68, 2) iBUG-300W points in source pixels.
    matrix: float64 (2, 3) affine map from source pixels to crop pixels.
    size: the crop's side S in pixels. coverage: how much of the head the crop frames, as the
    aligner names it (doppel.faces.align: "face", "whole-face", "head").
    pose: yaw, pitch, roll in degrees (synth's convention). blur: extract's blur measure.
    score: detection score in [0, 1]. track: track id, -1 untracked.
    crop: RGB uint8 (S, S, 3), the aligned face. mask: uint8 (S, S), 255 on the face, 0 off it.
    Both are None in records read with `images=False`.
    name: the crop's file name inside the faceset ("" until the record is added); the mask is
    `masks/<name>`.
    """

    source_path: Path
    source_hash: str
    frame: int
    pts: Fraction | None
    box: tuple[float, float, float, float]
    landmarks: npt.NDArray[np.float32]
    points68: npt.NDArray[np.float32]
    matrix: npt.NDArray[np.float64]
    size: int
    coverage: str
    pose: tuple[float, float, float]
    blur: float
    score: float
    track: int
    crop: npt.NDArray[np.uint8] | None
    mask: npt.NDArray[np.uint8] | None
    name: str = ""


@dataclass(frozen=True, eq=False)
class TrackRecord:
    """One track's identity: embedding float32 (128,) (dlib ResNet), averaged by extract over
    `frames` of the track's faces in the source with sha256 `source_hash`."""

    source_hash: str
    track: int
    embedding: npt.NDArray[np.float32]
    frames: int


def check_record(record: FaceRecord) -> None:
    """Raise ValueError or TypeError (a bug in the caller) when a record is malformed."""
    size = record.size
    if record.crop is None or record.mask is None:
        raise ValueError("a record to add needs its crop and mask")
    if record.crop.dtype != np.uint8 or record.crop.shape != (size, size, 3):
        raise ValueError(f"crop must be uint8 ({size}, {size}, 3), got "
                         f"{record.crop.dtype} {record.crop.shape}")
    if record.mask.dtype != np.uint8 or record.mask.shape != (size, size):
        raise ValueError(f"mask must be uint8 ({size}, {size}), got "
                         f"{record.mask.dtype} {record.mask.shape}")
    for name, array, shape in (("landmarks", record.landmarks, (len(record.landmarks), 2)),
                               ("points68", record.points68, (68, 2)),
                               ("matrix", record.matrix, (2, 3))):
        if np.shape(array) != shape:
            raise ValueError(f"{name} must be {shape}, got {np.shape(array)}")
    if not isinstance(record.coverage, str):
        raise TypeError(f"coverage must be the aligner's framing name, got {record.coverage!r}")
    if len(record.source_hash) != 64:
        raise ValueError(f"source_hash must be a sha256 hex digest, got {record.source_hash!r}")


# Arrays are stored little-endian whatever the machine, so a faceset can be copied anywhere.
def float32_blob(array: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def float64_blob(array: npt.ArrayLike) -> bytes:
    return np.ascontiguousarray(array, dtype="<f8").tobytes()


def float32_array(blob: bytes, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f4").reshape(shape).astype(np.float32)


def float64_array(blob: bytes, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    return np.frombuffer(blob, dtype="<f8").reshape(shape).astype(np.float64)


def pts_text(pts: Fraction | None) -> str | None:
    """Exact time as "num/den" text (a float would lose frame-exactness at 30000/1001 fps)."""
    if pts is None:
        return None
    pts = Fraction(pts)
    return f"{pts.numerator}/{pts.denominator}"


def pts_value(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)
