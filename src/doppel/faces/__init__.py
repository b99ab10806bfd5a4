"""Faces: detection with 478-point (mediapipe) or 68-point (dlib) landmarks, the iBUG-68 view
and head pose of every face, alignment to a template and back, masks from landmarks, identity
embeddings and selection by a reference photo; tracking in `doppel.faces.track`."""

from doppel.faces.align import (COVERAGES, AlignedFace, Coverage, align_face, align_matrix,
                                invert_matrix, paste_face, transform_points)

from doppel.faces.detectors import (DEFAULT_DETECTOR, DETECTORS, DetectorBackend, DlibOptions,
                                    FaceDetector, MediapipeOptions, open_detector)
from doppel.faces.dlib_faces import DlibFaces
from doppel.faces.masks import PARTS, component_masks, face_hull_mask
from doppel.faces.landmarks import NUM_POINTS68, POINT_GROUPS, points68_from_mediapipe
from doppel.faces.mediapipe import NUM_LANDMARKS, MediapipeFaces
from doppel.faces.pose import estimate_pose, load_mean_face
from doppel.types import Face

__all__ = [
    "COVERAGES", "PARTS", "AlignedFace", "Coverage", "align_face", "align_matrix",
    "component_masks", "face_hull_mask", "invert_matrix", "paste_face", "transform_points",
    "DEFAULT_DETECTOR", "DETECTORS", "NUM_LANDMARKS", "NUM_POINTS68", "POINT_GROUPS",
    "DetectorBackend", "DlibFaces", "DlibOptions", "Face", "FaceDetector", "MediapipeFaces",
    "MediapipeOptions", "estimate_pose", "load_mean_face", "open_detector",
    "points68_from_mediapipe",
]
