"""Faces: detection with 478-point (mediapipe) or 68-point (dlib) landmarks, the iBUG-68 view
and head pose of every face, identity embeddings; tracking, alignment and masks to come."""

from doppel.faces.detectors import (DEFAULT_DETECTOR, DETECTORS, DetectorBackend, DlibOptions,
                                    FaceDetector, MediapipeOptions, open_detector)
from doppel.faces.dlib_faces import DlibFaces
from doppel.faces.landmarks import NUM_POINTS68, POINT_GROUPS, points68_from_mediapipe
from doppel.faces.mediapipe import NUM_LANDMARKS, MediapipeFaces
from doppel.faces.pose import estimate_pose, load_mean_face
from doppel.types import Face

__all__ = [
    "DEFAULT_DETECTOR", "DETECTORS", "NUM_LANDMARKS", "NUM_POINTS68", "POINT_GROUPS",
    "DetectorBackend", "DlibFaces", "DlibOptions", "Face", "FaceDetector", "MediapipeFaces",
    "MediapipeOptions", "estimate_pose", "load_mean_face", "open_detector",
    "points68_from_mediapipe",
]
