"""Who a face is: dlib's 128-d ResNet identity embedding, and the distance between two of them.

The embedding is dlib's `face_recognition_model_v1` (the model `face_recognition` uses, 99.38 %
on LFW). A face is aligned by dlib's 5-point shape predictor run inside a face box, then
`compute_face_descriptor(rgb, shape, num_jitters=0)` cuts the aligned 150x150 chip (padding
0.25) and runs the network on it: the same numbers as `get_face_chip(rgb, shape, 150, 0.25)`
followed by the descriptor of the chip, in one call.

The 5-point predictor was trained on boxes from dlib's HOG frontal detector, which are squares
over the inner face, brows to chin. A box derived from mediapipe's 478 landmarks is mapped onto
such a box (`box_from_landmarks`), measured on rendered synthetic actors: the HOG square's side is
0.89 times the landmarks' height and its centre sits 0.05 of that height above the landmarks'
centre. On 8 actors x 10 frames at 256 px the embedding from the mapped box is a median 0.06
(90th percentile 0.10) from the HOG box's; for scale, moving a HOG box by 5 px moves the
embedding by about 0.1, and dlib calls faces the same person below 0.6. The predictor lands
within ~0.9 px (median) of the true eye corners and nose base of synthetic actors, and aligning
on those true points instead changed no identity statistic, so the predictor is used throughout.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError

EMBEDDING_SIZE = 128
# dlib's own threshold: two faces closer than this are the same person (99.38 % on LFW).
# Same-person pairs of real people are typically below 0.4, different people above 0.6.
SAME_PERSON_DISTANCE = 0.6
MODELS_PACKAGE = "face_recognition_models"
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
# landmark extent -> HOG-like box: side and centre shift as fractions of the landmarks' height
HOG_SIDE, HOG_SHIFT = 0.89, -0.05

Box = tuple[float, float, float, float]
Embedding = npt.NDArray[np.float32]


class IdentityEncoder:
    """dlib's face identity embedding; build once and reuse, since loading the models is slow.

    models: folder holding the two .dat files (ENCODER_FILE, SHAPE_FILE); None finds the
        `face_recognition_models` package's folder without importing it (its __init__ needs
        pkg_resources). upsample: how many times the HOG detector doubles the image when
        `embed` is given no box; 1 finds faces down to about 40 pixels.
    """

    def __init__(self, models: Path | None = None, upsample: int = 1) -> None:
        dlib = import_dlib()
        paths = model_paths(models)
        self._encoder = dlib.face_recognition_model_v1(str(paths[0]))
        self._shapes = dlib.shape_predictor(str(paths[1]))
        self._dlib = dlib
        self._detector = None  # the HOG detector loads (~0.8 s) only if `detect` is used
        self._rectangle = dlib.rectangle
        self._upsample = upsample

    def detect(self, rgb: npt.NDArray[np.uint8]) -> Box | None:
        """The HOG detector's most confident face box (x0, y0, x1, y1) in pixels, or None."""
        if self._detector is None:
            self._detector = self._dlib.get_frontal_face_detector()
        rects, scores, _ = self._detector.run(_check_image(rgb), self._upsample)
        if not rects:
            return None
        best = rects[int(np.argmax(scores))]
        return (float(best.left()), float(best.top()), float(best.right()),
                float(best.bottom()))

    def embed(self, rgb: npt.NDArray[np.uint8],
              where: Box | npt.NDArray[np.floating] | None = None) -> Embedding | None:
        """The identity embedding, float32 (128,), of one face in `rgb` (RGB uint8 HxWx3).

        where: the face's box (x0, y0, x1, y1) in pixels, like dlib's HOG boxes (brows to
            chin); or its landmarks, float (N, 2) pixels, N > 4 (e.g. mediapipe's 478),
            mapped with `box_from_landmarks`; or None to find the face with the HOG detector.
        Returns None only when `where` is None and no face is found. Its norm is near 1 but
        not exactly 1; compare embeddings with `identity_distance`.
        """
        rgb = _check_image(rgb)
        if where is None:
            box = self.detect(rgb)
            if box is None:
                return None
        else:
            points = np.asarray(where, dtype=np.float64)
            box = box_from_landmarks(points) if points.ndim == 2 else _check_box(points)
        rect = self._rectangle(*(int(round(value)) for value in box))
        shape = self._shapes(rgb, rect)
        return np.asarray(self._encoder.compute_face_descriptor(rgb, shape, 0), np.float32)


def box_from_landmarks(landmarks: npt.NDArray[np.floating]) -> Box:
    """A square box (x0, y0, x1, y1) like dlib's HOG detector's from landmarks, float (N, 2).

    Built from the landmarks' height, which turning the head barely changes (their width
    shrinks with yaw): side HOG_SIDE x height, centred HOG_SHIFT x height from their centre.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 5:
        raise ValueError(f"landmarks must be (N, 2) with N >= 5, got {points.shape}")
    low, high = points.min(axis=0), points.max(axis=0)
    height = high[1] - low[1]
    centre_x, centre_y = (low[0] + high[0]) / 2, (low[1] + high[1]) / 2 + HOG_SHIFT * height
    half = HOG_SIDE * height / 2
    return (float(centre_x - half), float(centre_y - half), float(centre_x + half),
            float(centre_y + half))


def identity_distance(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """Euclidean distance between two embeddings; below SAME_PERSON_DISTANCE (0.6) dlib calls
    them the same person."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def model_paths(models: Path | None = None) -> list[Path]:
    """The encoder's and the 5-point predictor's files in `models` (None: the
    face_recognition_models package's folder); a DoppelError when one is missing."""
    folder = find_models() if models is None else Path(models)
    paths = [folder / ENCODER_FILE, folder / SHAPE_FILE]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise DoppelError(f"dlib model files {', '.join(missing)} are missing from "
                          f"{folder}: reinstall face_recognition_models "
                          "(pip install face_recognition_models)")
    return paths


def find_models() -> Path:
    """The `face_recognition_models` package's models folder, found without importing it."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DoppelError("the dlib face models are not installed: "
                          "pip install face_recognition_models")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def import_dlib(needed_for: str = "face identity", instead: str = "") -> Any:
    """The dlib module, or a DoppelError saying what it was `needed_for` and how to get it."""
    try:
        import dlib
    except ImportError as error:
        raise DoppelError(f"dlib is needed for {needed_for} ({error}): pip install dlib-bin"
                          f"{instead}") from error
    return dlib


def _check_image(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 HxWx3 image, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)  # dlib needs C order; flips and crops are views


def _check_box(box: npt.NDArray[np.float64]) -> Box:
    if box.shape != (4,) or not (box[2] > box[0] and box[3] > box[1]):
        raise ValueError(f"a box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box}")
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
