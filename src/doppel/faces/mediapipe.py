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
import types
import warnings
from collections.abc import Iterator
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.faces.landmarks import points68_from_mediapipe
from doppel.faces.pose import estimate_pose
from doppel.types import Face

NUM_LANDMARKS = 478  # 468 mesh points + 2 x 5 iris points (refine_landmarks=True)
CROP = 256  # side of the crop the mesh runs on (its landmark model itself works at 192)
CROP_MARGIN = 1.9  # crop side / the face box's longer side
DETECT_SIDE = 640  # frames are shrunk to this longer side for the full-range detector
REDETECT_EVERY = 10  # video: frames between full-range passes looking for newcomers

_DRAWING_MODULES = ("mediapipe.python.solutions.drawing_utils",
                    "mediapipe.python.solutions.drawing_styles")

Box = npt.NDArray[np.float64]  # x0, y0, x1, y1 in frame pixels


class MediapipeFaces:
    """Finds faces and their landmarks; build once and reuse, since building the graphs is slow.

    Two ways to a face, because the face mesh's own detector (short-range BlazeFace) misses
    every face under about a third of the frame's height (a two-shot, a group photo, a person
    a few metres away in 720p):
    - BlazeFace full-range (model_selection=1; faces from a few percent of the frame up) finds
      faces, and the mesh runs on a crop around each one, resized to CROP pixels, where the
      face fills the view it expects. Photos (static) go this way only.
    - Video (static False) also runs the mesh in mediapipe's tracking mode on the whole frame
      for one large face, which it follows from frame to frame without detecting it again
      (the fast path, ~8 ms at 720p); faces it does not see are followed on crops placed by
      their last landmarks. Full-range detection runs again every REDETECT_EVERY frames to find
      newcomers, and whenever a face is lost or new.
    A photo in which full-range finds no face gets the mesh on the whole picture as well (a
    close-up it misses). A face's score is full-range BlazeFace's for the detection it overlaps
    (carried along in video), 0.0 when full-range never saw it.

    max_faces: most faces returned per frame. static: True treats every frame as unrelated
    (photos); False assumes consecutive video frames. min_score: detection threshold. quiet:
    silence the native (C++/TF-Lite) log lines that mediapipe writes to stderr while its
    graphs start — done by pointing file descriptor 2 at /dev/null during construction (and,
    in video, until the first face is found), which also hides anything other threads write to
    stderr in those moments.
    """

    def __init__(self, max_faces: int = 1, static: bool = True, min_score: float = 0.5,
                 quiet: bool = True) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        solutions = _import_solutions()
        with _quiet_native_stderr(quiet), _ignore_protobuf_warnings():
            self._crop_mesh = solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=min_score)
            # One face: while it tracks fewer faces than it may, the mesh runs its detector
            # on every frame (~3x the cost); more faces are followed on crops.
            self._video_mesh = None if static else solutions.face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=min_score, min_tracking_confidence=0.5)
            self._detector = solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_score)
            # The graphs start, and log, on their first frame; do that here while quiet.
            blank = np.zeros((64, 64, 3), np.uint8)
            for graph in (self._crop_mesh, self._video_mesh, self._detector):
                if graph is not None:
                    graph.process(blank)
        # The tracking mesh's landmark model starts (and logs) only when a face first appears.
        self._quiet_until_found = quiet and not static
        self.max_faces = max_faces
        self.static = static
        self._previous: list[Face] = []  # video: the last frame's faces
        self._since_detection = 0

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Faces in one RGB uint8 HxWx3 frame, largest first."""
        with _ignore_protobuf_warnings():
            return self._detect(rgb)

    def _detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        faces: list[Face] = []
        with _quiet_native_stderr(self._quiet_until_found):
            if self._video_mesh is not None:
                meshes = self._video_mesh.process(rgb).multi_face_landmarks or []
                faces = [_face_from_mesh(mesh, width, height, np.nan) for mesh in meshes]
        for before in self._previous:  # faces the whole-frame mesh lost or never saw
            if not _overlaps(before.box, faces, 0.3):
                face = self._mesh_face_in(rgb, np.array(before.box), before.score)
                if face is not None:
                    faces.append(face)
        faces = [_carry_score(face, self._previous) for face in faces]
        self._since_detection += 1
        if (self.static or self._since_detection >= REDETECT_EVERY
                or len(faces) < len(self._previous) or not faces
                or any(np.isnan(face.score) for face in faces)):
            self._since_detection = 0
            found = self._detect_boxes(rgb)
            faces = [_score_from(face, found) for face in faces]
            for box, score in found:
                if not _overlaps(box, faces, 0.3):
                    face = self._mesh_face_in(rgb, box, score)
                    if face is not None and not _overlaps(np.array(face.box), faces, 0.5):
                        faces.append(face)
        if not faces and self._video_mesh is None:
            # A close-up that full-range BlazeFace (tuned for faces a few metres away) misses:
            # the mesh's own short-range detector on the whole picture finds it.
            meshes = self._crop_mesh.process(rgb).multi_face_landmarks or []
            faces = [_score_from(_face_from_mesh(mesh, width, height, np.nan), [])
                     for mesh in meshes]
        if faces:
            self._quiet_until_found = False
        faces = sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        # The tracking mesh, detecting again, can return one face twice: keep the larger.
        unique: list[Face] = []
        for face in faces:
            if not _overlaps(face.box, unique, 0.5):
                unique.append(face)
        faces = unique[:self.max_faces]
        if not self.static:
            self._previous = faces
        return faces

    def _detect_boxes(self, rgb: npt.NDArray[np.uint8]) -> list[tuple[Box, float]]:
        """Full-range BlazeFace's faces: boxes in frame pixels and scores. It sees a 192-px
        view, so a frame larger than DETECT_SIDE is shrunk first (cheaper, same result)."""
        import cv2

        height, width = rgb.shape[:2]
        shrink = min(1.0, DETECT_SIDE / max(height, width))
        small = rgb if shrink == 1.0 else cv2.resize(
            rgb, (round(width * shrink), round(height * shrink)), interpolation=cv2.INTER_AREA)
        detections = self._detector.process(small).detections or []
        return [(_detection_box(d, width, height), float(d.score[0])) for d in detections]

    def _mesh_face_in(self, rgb: npt.NDArray[np.uint8], box: Box, score: float
                      ) -> Face | None:
        """The face mesh on a CROP-pixel square around `box` (frame pixels); None when the
        mesh finds no face there."""
        import cv2

        height, width = rgb.shape[:2]
        centre = (box[:2] + box[2:]) / 2
        side = max(CROP_MARGIN * float(np.max(box[2:] - box[:2])), 8.0)
        scale = CROP / side
        # crop pixel u = scale * (x - centre) + (CROP - 1) / 2 (pixel centres at integers)
        offset = (CROP - 1) / 2 - scale * centre
        matrix = np.array([[scale, 0.0, offset[0]], [0.0, scale, offset[1]]])
        crop = cv2.warpAffine(rgb, matrix, (CROP, CROP), flags=cv2.INTER_LINEAR
                              if scale >= 0.5 else cv2.INTER_AREA,
                              borderMode=cv2.BORDER_CONSTANT)
        meshes = self._crop_mesh.process(crop).multi_face_landmarks or []
        if not meshes:
            return None
        return _face_from_mesh(meshes[0], width, height, score, (scale, offset))

    def close(self) -> None:
        for graph in (self._crop_mesh, self._video_mesh, self._detector):
            if graph is not None:
                graph.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _import_solutions() -> Any:
    # mediapipe's package imports its drawing helpers, and they import matplotlib.pyplot:
    # ~0.9 s of the ~1.3 s mediapipe takes to import, for functions doppel never calls. Empty
    # stand-ins take their place while mediapipe loads and leave sys.modules afterwards, so
    # whoever imports the helpers later gets the real ones.
    stand_ins = [name for name in _DRAWING_MODULES if name not in sys.modules]
    for name in stand_ins:
        sys.modules[name] = types.ModuleType(name)
    try:
        from mediapipe.python import solutions
    except ImportError as error:
        raise DoppelError(
            f"mediapipe is not installed ({error}); install it with "
            "`pip install --no-deps mediapipe==0.10.14` (see the Makefile)") from None
    finally:
        for name in stand_ins:
            if isinstance(sys.modules.get(name), types.ModuleType) and \
                    getattr(sys.modules[name], "__file__", None) is None:
                del sys.modules[name]
    if stand_ins and not hasattr(solutions, "__getattr__"):
        solutions.__getattr__ = _import_drawing  # mp.solutions.drawing_utils still works
    return solutions


def _import_drawing(name: str) -> Any:
    full = f"mediapipe.python.solutions.{name}"
    if full not in _DRAWING_MODULES:
        raise AttributeError(f"module 'mediapipe.python.solutions' has no attribute {name!r}")
    import importlib

    return importlib.import_module(full)


def _face_from_mesh(mesh: Any, width: int, height: int, score: float,
                    crop: tuple[float, npt.NDArray[np.float64]] | None = None) -> Face:
    """A Face from a mesh result on the whole frame, or on a crop made with (scale, offset)
    (crop pixel = scale * frame pixel + offset)."""
    points = np.array([(p.x, p.y, p.z) for p in mesh.landmark], np.float64)
    if crop is None:
        landmarks = points[:, :2] * (width, height) - 0.5
        depth = points[:, 2] * width
    else:
        scale, offset = crop
        landmarks = (points[:, :2] * CROP - 0.5 - offset) / scale
        depth = points[:, 2] * CROP / scale
    landmarks = landmarks.astype(np.float32)
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    points68 = points68_from_mediapipe(landmarks)
    return Face(box=(float(x0), float(y0), float(x1), float(y1)), score=score,
                landmarks=landmarks, points68=points68,
                pose=estimate_pose(points68, (width, height)), depth=depth.astype(np.float32))


def _overlaps(box: Any, faces: list[Face], limit: float) -> bool:
    """Whether `box` covers more than `limit` of the smaller of itself and a face's box: a
    detector's box (brows to mouth) lies inside the landmarks' box of the same face, where
    their IoU alone can be small."""
    box = np.asarray(box, np.float64)
    return any(_cover(box, np.array(face.box)) > limit for face in faces)


def _cover(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    inner = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
    return float(inner / smaller) if smaller > 0 else 0.0


def _carry_score(face: Face, previous: list[Face]) -> Face:
    """A video face without a score takes the score of the last frame's face it overlaps."""
    if not np.isnan(face.score):
        return face
    overlaps = [_iou(np.array(face.box), np.array(before.box)) for before in previous]
    if overlaps and max(overlaps) > 0.3:
        return replace(face, score=previous[int(np.argmax(overlaps))].score)
    return face


def _score_from(face: Face, found: list[tuple[Box, float]]) -> Face:
    """A face without a score takes the full-range detection's it overlaps, else 0.0."""
    if not np.isnan(face.score):
        return face
    overlaps = [_iou(np.array(face.box), box) for box, _ in found]
    best = int(np.argmax(overlaps)) if overlaps else -1
    return replace(face, score=found[best][1] if best >= 0 and overlaps[best] > 0.25 else 0.0)


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
