"""Face detection and 68 iBUG landmarks with dlib: the HOG frontal detector (or the CNN one)
and the 68-point shape predictor (the face_recognition_models files).

Each face is a doppel.types.Face whose landmarks and points68 are the predictor's 68 points
(float32 (68, 2) pixels; dlib's points are whole pixels, pixel [i, j]'s centre being (j, i)),
box their extent (brows to chin; dlib's own box is not kept), pose from them
(doppel.faces.pose), depth None.

Score: both detectors give a margin whose threshold, in dlib, is 0 (the HOG detector's SVM
score; the CNN's MMOD confidence). It is mapped to [0, 1] by the logistic 1 / (1 + exp(-2 m)):
dlib's own threshold becomes 0.5 and a clear frontal face (margin >= 1, e.g. the astronaut's
1.16 with HOG and 1.07 with the CNN) >= 0.88. `min_score` is applied to that score; with HOG it
moves dlib's threshold (min_score 0.3 finds margins down to -0.42), while the CNN reports only
margins above 0, so below 0.5 it changes nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.faces.identity import find_models, import_dlib
from doppel.faces.pose import estimate_pose
from doppel.types import Face

DlibDetector = Literal["hog", "cnn"]
SHAPE_FILE = "shape_predictor_68_face_landmarks.dat"
CNN_FILE = "mmod_human_face_detector.dat"
SCORE_SLOPE = 2.0  # logistic slope mapping dlib's margin to [0, 1]


class DlibFaces:
    """Finds faces and their 68 landmarks; build once and reuse, since loading the models is
    slow (the CNN's especially).

    max_faces: most faces returned per frame (largest first). min_score: threshold on the
    mapped score (module docstring). detector: "hog" (fast, frontal faces up to ~30 degrees of
    yaw) or "cnn" (MMOD; finds more turned faces; seconds per frame on a CPU). upsample: how
    many times the detector doubles the image first; each doubling finds faces half as big
    (HOG: about 80 px wide at 0, 40 at 1) and costs about 4x the time. models: folder holding
    the .dat files; None finds the face_recognition_models package's folder. dlib has no
    tracking: every frame is searched afresh.
    """

    def __init__(self, max_faces: int = 1, min_score: float = 0.5,
                 detector: DlibDetector = "hog", upsample: int = 1,
                 models: Path | None = None) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {min_score}")
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        if upsample < 0:
            raise ValueError(f"upsample must be 0 or more, got {upsample}")
        dlib = import_dlib("the dlib face detector", ", or choose the mediapipe detector")
        folder = find_models() if models is None else Path(models)
        needed = [SHAPE_FILE] + ([CNN_FILE] if detector == "cnn" else [])
        missing = [name for name in needed if not (folder / name).is_file()]
        if missing:
            raise DoppelError(f"dlib model files {', '.join(missing)} are missing from "
                              f"{folder}: reinstall face_recognition_models "
                              "(pip install face_recognition_models)")
        self._predictor = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._hog = dlib.get_frontal_face_detector() if detector == "hog" else None
        self._cnn = (dlib.cnn_face_detection_model_v1(str(folder / CNN_FILE))
                     if detector == "cnn" else None)
        self._max_faces, self._min_score, self._upsample = max_faces, min_score, upsample

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Faces in one RGB uint8 HxWx3 frame, largest first."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        rgb = np.ascontiguousarray(rgb)  # dlib needs C order; flips and crops are views
        height, width = rgb.shape[:2]
        faces = [self._read_face(rgb, rect, score, (width, height))
                 for rect, score in self._find_boxes(rgb) if score >= self._min_score]
        faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return faces[:self._max_faces]

    def close(self) -> None:
        """Nothing to release (dlib frees its models with the object); kept for the
        detector interface."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _find_boxes(self, rgb: npt.NDArray[np.uint8]) -> list[tuple[Any, float]]:
        """(dlib rectangle, mapped score) per detection."""
        if self._hog is not None:
            threshold = math.log(self._min_score / (1.0 - self._min_score)) / SCORE_SLOPE
            rects, margins, _ = self._hog.run(rgb, self._upsample, threshold)
            return [(rect, score_from_margin(margin)) for rect, margin in zip(rects, margins)]
        return [(found.rect, score_from_margin(found.confidence))
                for found in self._cnn(rgb, self._upsample)]

    def _read_face(self, rgb: npt.NDArray[np.uint8], rect: Any, score: float,
                   size: tuple[int, int]) -> Face:
        shape = self._predictor(rgb, rect)
        points = np.array([(part.x, part.y) for part in shape.parts()], np.float32)
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        return Face(box=(float(x0), float(y0), float(x1), float(y1)), score=score,
                    landmarks=points, points68=points, pose=estimate_pose(points, size))


def score_from_margin(margin: float) -> float:
    """dlib's detection margin (threshold 0) as a score in [0, 1]: 0 -> 0.5, 1 -> 0.88."""
    return 1.0 / (1.0 + math.exp(-SCORE_SLOPE * float(margin)))
