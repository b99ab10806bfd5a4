"""Data that crosses stage boundaries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt


PixelBox = tuple[int, int, int, int]  # x0, y0, x1, y1 whole pixels, the end exclusive


@dataclass(frozen=True, eq=False)
class Yuv420:
    """A video picture as the file stores it, kept beside its RGB so that a re-encode can
    leave the pixels nobody changed exactly as they were (no trip through RGB and back).

    planes: uint8 (3H/2) x W, I420 layout: the H x W luma plane, then the (H/2) x (W/2) U and
        V planes, each stored as H/4 rows of W bytes (two plane rows per array row).
    matrix: the YUV <-> RGB matrix, as ISO/IEC 23091-2 codes it (1: BT.709, 6: BT.601).
    Always limited ("TV") range, 8 bits, even width and height, upright.
    """

    planes: npt.NDArray[np.uint8]
    matrix: int


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture.

    index: position in the source, counting from 0 (before any `step`).
    pts: presentation time in seconds, exact; None for still images and image directories.
    rgb: RGB uint8, HxWx3, C-contiguous, already rotated for display.
    yuv: the picture as stored in the video, when asked for and plain 8-bit 4:2:0 (see
        `doppel.media.read_frames`); None otherwise. `rgb` is then its display copy.
    """

    index: int
    pts: Fraction | None
    rgb: npt.NDArray[np.uint8]
    yuv: Yuv420 | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


@dataclass(frozen=True, eq=False)
class Face:
    """One face found in a frame by a detector backend (doppel.faces).

    box: (x0, y0, x1, y1) in pixels, the extent of the backend's landmarks.
    score: detection score in [0, 1]; each backend documents how it maps its own score.
    landmarks: float32 (N, 2), x, y in pixels (pixel [i, j]'s centre is (j, i)), the backend's
        own points: 478 for mediapipe (its face-mesh order), 68 for dlib.
    points68: float32 (68, 2) pixels, the same face in iBUG-300W order, for every backend:
        0-16 jaw (image left to right), 17-21 and 22-26 brows, 27-35 nose, 36-41 and 42-47
        eyes (image left first), 48-67 lips.
    pose: (yaw, pitch, roll) in degrees with synth's convention: yaw > 0 turns the face to its
        own left (nose to the image's right), pitch > 0 looks up, roll > 0 tilts the head
        towards its left shoulder (clockwise on screen).
    depth: float32 (N,), per-landmark depth where the backend has it (mediapipe: roughly
        pixels, smaller is nearer the camera); None otherwise.
    track: track id once tracked; -1 untracked.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: npt.NDArray[np.float32]
    points68: npt.NDArray[np.float32]
    pose: tuple[float, float, float]
    depth: npt.NDArray[np.float32] | None = None
    track: int = -1


ConsentKind = Literal["person", "synthetic"]


@dataclass(frozen=True)
class Consent:
    """A record that the person shown agreed to be used (or that they do not exist).

    subject: who the faces belong to, as a label (not a real name where avoidable).
    statement: what was agreed to, in words. date: ISO date (YYYY-MM-DD) of the agreement.
    kind: "person" for a real person, "synthetic" for a synthetic actor.
    Its id, the sha256 of its canonical JSON, travels from faceset to model to every output.
    """

    subject: str
    statement: str
    date: str
    kind: ConsentKind

    def canonical_json(self) -> str:
        fields = {"subject": self.subject, "statement": self.statement, "date": self.date,
                  "kind": self.kind}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()
