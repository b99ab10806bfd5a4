"""Face detection and 478-point landmarks with mediapipe (BlazeFace full-range + face mesh).

Each face is a doppel.types.Face: landmarks float32 (478, 2) pixels in mediapipe's numbering
(468..477 are the irises; "left" in mediapipe's names is the subject's left, on the image's
right); depth float32 (478,), mediapipe's z scaled like x (z_norm * W), so roughly pixels,
smaller is nearer the camera, about 0 at the head's centre plane; points68 the iBUG view
(doppel.faces.landmarks); pose from those (doppel.faces.pose); box the landmarks' extent (not
BlazeFace's box, which stops at the brows and can cut the chin); score the BlazeFace full-range
score of the detection that overlaps the face, 0.0 when only the mesh's own short-range detector
found it.

Coordinates are pixels with OpenCV's convention: the centre of pixel (row i, column j) is at
x=j, y=i.
mediapipe's normalised coordinates span the image edges (0 is the left edge of pixel 0, 1 the
right edge of pixel W-1), so x_pixel = x_norm * W - 0.5 and y_pixel = y_norm * H - 0.5.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.faces.landmarks import points68_from_mediapipe
from doppel.faces.pose import estimate_pose
from doppel.types import Face

NUM_LANDMARKS = 478  # 468 mesh points + 2 x 5 iris points (refine_landmarks=True)


class MediapipeFaces:
    """Finds faces and their landmarks; build once and reuse, since building the graphs is slow.

    A face counts as found when the face mesh finds it (the mesh runs its own short-range
    BlazeFace internally). BlazeFace full-range (model_selection=1) also runs on the frame only
    to give each mesh face a calibrated score, matched by box overlap.

    max_faces: most faces returned per frame. static: True treats every frame as unrelated
    (photos); False lets the mesh track faces between consecutive video frames, which is faster
    and steadier but assumes frames arrive in order. min_score: detection threshold for both
    detectors. quiet: silence the native (C++/TF-Lite) log lines that mediapipe writes to
    stderr while its graphs start — done by pointing file descriptor 2 at /dev/null during
    construction (and, when tracking, until the first face is found), which also hides anything
    other threads write to stderr in those moments.
    """

    def __init__(self, max_faces: int = 1, static: bool = True, min_score: float = 0.5,
                 quiet: bool = True) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        solutions = _import_solutions()
        with _quiet_native_stderr(quiet), _ignore_protobuf_warnings():
            self._mesh = solutions.face_mesh.FaceMesh(
                static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=min_score, min_tracking_confidence=0.5)
            self._detector = solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_score)
            # The graphs start, and log, on their first frame; do that here while quiet.
            blank = np.zeros((64, 64, 3), np.uint8)
            self._mesh.process(blank)
            self._detector.process(blank)
        # In tracking mode the landmark model starts (and logs) only when a face first appears.
        self._quiet_until_found = quiet and not static

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Faces in one RGB uint8 HxWx3 frame, largest first."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        with _quiet_native_stderr(self._quiet_until_found), _ignore_protobuf_warnings():
            meshes = self._mesh.process(rgb).multi_face_landmarks or []
            if not meshes:
                return []
            detections = self._detector.process(rgb).detections or []
        self._quiet_until_found = False
        boxes = [_detection_box(d, width, height) for d in detections]
        scores = [float(d.score[0]) for d in detections]
        faces = [_mesh_face(m, width, height, boxes, scores) for m in meshes]
        return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))

    def close(self) -> None:
        self._mesh.close()
        self._detector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _import_solutions() -> Any:
    try:
        from mediapipe.python import solutions
    except ImportError as error:
        raise DoppelError(
            f"mediapipe is not installed ({error}); install it with "
            "`pip install --no-deps mediapipe==0.10.14` (see the Makefile)") from None
    return solutions


def _mesh_face(mesh: Any, width: int, height: int, boxes: list[npt.NDArray[np.float64]],
               scores: list[float]) -> Face:
    points = np.array([(p.x, p.y, p.z) for p in mesh.landmark], np.float64)
    landmarks = (points[:, :2] * (width, height) - 0.5).astype(np.float32)
    depth = (points[:, 2] * width).astype(np.float32)
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    box = np.array([x0, y0, x1, y1], np.float64)
    overlaps = [_iou(box, other) for other in boxes]
    best = int(np.argmax(overlaps)) if overlaps else -1
    score = scores[best] if best >= 0 and overlaps[best] > 0.25 else 0.0
    points68 = points68_from_mediapipe(landmarks)
    return Face(box=(float(x0), float(y0), float(x1), float(y1)), score=score,
                landmarks=landmarks, points68=points68,
                pose=estimate_pose(points68, (width, height)), depth=depth)


def _detection_box(detection: Any, width: int, height: int) -> npt.NDArray[np.float64]:
    rel = detection.location_data.relative_bounding_box
    x0, y0 = rel.xmin * width - 0.5, rel.ymin * height - 0.5
    return np.array([x0, y0, x0 + rel.width * width, y0 + rel.height * height], np.float64)


def _iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    inner = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inner
    return float(inner / union) if union > 0 else 0.0


@contextlib.contextmanager
def _quiet_native_stderr(quiet: bool) -> Iterator[None]:
    # The C++ side logs through glog/absl/TF-Lite straight to fd 2 before absl is initialised;
    # neither GLOG_minloglevel nor TF_CPP_MIN_LOG_LEVEL reaches it, so redirect the descriptor.
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _ignore_protobuf_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated",
                                category=UserWarning)
        yield
