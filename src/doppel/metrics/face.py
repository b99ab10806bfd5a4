"""How well an output face keeps who the source is and what the target did: identity distances
and retrieval, landmark error (expression) and head-pose error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from doppel.faces.landmarks import NUM_POINTS68, POINT_GROUPS

LandmarkGroup = Literal["all", "jaw", "brows", "nose", "eyes", "mouth"]
LANDMARK_GROUPS: dict[str, range] = {"all": range(NUM_POINTS68), **POINT_GROUPS}
# iBUG outer eye corners: the normaliser of the 300-W benchmark's NME ("inter-ocular").
OUTER_EYE_CORNERS = (36, 45)


def identity_scores(embeddings: Iterable[npt.NDArray[np.floating]],
                    source_mean: npt.NDArray[np.floating],
                    target_mean: npt.NDArray[np.floating]) -> dict[str, float]:
    """Where the output faces' identity embeddings (float (128,) each) sit between the source's
    and the target's mean embeddings.

    Returns to_source and to_target: median Euclidean distance to each mean (dlib calls two
    faces the same person below 0.6); closer_to_source: share of frames nearer the source's
    mean than the target's; frames: how many embeddings.
    """
    points = _stack(embeddings)
    to_source = np.linalg.norm(points - np.asarray(source_mean, np.float64), axis=1)
    to_target = np.linalg.norm(points - np.asarray(target_mean, np.float64), axis=1)
    return {"to_source": float(np.median(to_source)), "to_target": float(np.median(to_target)),
            "closer_to_source": float(np.mean(to_source < to_target)),
            "frames": float(len(points))}


def retrieval_top1(embeddings: Iterable[npt.NDArray[np.floating]],
                   gallery: Mapping[str, npt.NDArray[np.floating]], expected: str) -> float:
    """Share of the embeddings (float (128,) each) whose nearest gallery mean is `expected`'s.

    gallery: a name -> mean embedding per person; `expected` must be one of its names.
    """
    if expected not in gallery:
        raise ValueError(f"{expected!r} is not in the gallery ({', '.join(gallery)})")
    return float(np.mean([name == expected for name in nearest_names(embeddings, gallery)]))


def nearest_names(embeddings: Iterable[npt.NDArray[np.floating]],
                  gallery: Mapping[str, npt.NDArray[np.floating]]) -> list[str]:
    """For each embedding, the name of the gallery mean nearest to it."""
    if not gallery:
        raise ValueError("the gallery is empty")
    names = list(gallery)
    means = np.stack([np.asarray(gallery[name], np.float64) for name in names])
    points = _stack(embeddings)
    distances = np.linalg.norm(points[:, None, :] - means[None, :, :], axis=2)
    return [names[index] for index in np.argmin(distances, axis=1)]


def landmark_nme(detected68: npt.NDArray[np.floating], truth68: npt.NDArray[np.floating],
                 groups: Sequence[LandmarkGroup] = ("all", "mouth", "eyes")) -> dict[str, float]:
    """Normalised mean error of detected iBUG-68 points against the true ones (float (68, 2)
    pixels each): per group, the mean point-to-point distance divided by the true outer eye
    corners' distance (points 36 and 45). Groups: "all" (0-67) and doppel.faces.POINT_GROUPS
    (mouth 48-67, eyes 36-47, ...)."""
    detected = np.asarray(detected68, np.float64)
    truth = np.asarray(truth68, np.float64)
    if detected.shape != (NUM_POINTS68, 2) or truth.shape != (NUM_POINTS68, 2):
        raise ValueError(f"expected two (68, 2) point sets, got {detected.shape} and "
                         f"{truth.shape}")
    unknown = [group for group in groups if group not in LANDMARK_GROUPS]
    if unknown:
        raise ValueError(f"unknown landmark groups {unknown}: choose from "
                         f"{', '.join(LANDMARK_GROUPS)}")
    scale = float(np.linalg.norm(truth[OUTER_EYE_CORNERS[0]] - truth[OUTER_EYE_CORNERS[1]]))
    if scale == 0.0:
        raise ValueError("the true outer eye corners coincide: cannot normalise the error")
    errors = np.linalg.norm(detected - truth, axis=1) / scale
    return {group: float(np.mean(errors[list(LANDMARK_GROUPS[group])])) for group in groups}


def pose_error(detected_pose: Sequence[float], truth_pose: Sequence[float]
               ) -> tuple[float, float, float]:
    """Absolute (yaw, pitch, roll) differences in degrees, each wrapped to [0, 180]."""
    if len(detected_pose) != 3 or len(truth_pose) != 3:
        raise ValueError("poses are (yaw, pitch, roll) in degrees")
    yaw, pitch, roll = (abs((float(a) - float(b) + 180.0) % 360.0 - 180.0)
                        for a, b in zip(detected_pose, truth_pose))
    return yaw, pitch, roll


def _stack(embeddings: Iterable[npt.NDArray[np.floating]]) -> npt.NDArray[np.float64]:
    rows = [np.asarray(embedding, np.float64).ravel() for embedding in embeddings]
    if not rows:
        raise ValueError("no embeddings to score")
    return np.stack(rows)


def expression_nme(detected68: Sequence[npt.NDArray[np.floating]],
                   truth68: Sequence[npt.NDArray[np.floating]],
                   groups: Sequence[LandmarkGroup] = ("all", "mouth")) -> dict[str, float]:
    """How well a clip's faces move as the truth's do, free of who they are: the expression
    part of the landmark error.

    detected68, truth68: the same frames' iBUG-68 points (float (68, 2) pixels each), output
    and truth, one pair per frame where both have a face. Each face is first brought to the
    alignment template by its eyes and nose (`doppel.faces.align.fit_face`: position, size and
    roll removed), then each side's median face over the clip is subtracted: what is left is
    each frame's expression (and the turn of the head, which output and truth share). The
    error per frame is the mean distance between the two, over the truth's median outer-eye
    distance; returned per group as the median over frames.

    Why not `landmark_nme` alone: a face swap keeps the target's head size and position and
    draws the source's proportions; the truth of a synthetic swap is the source's whole head,
    whose size can differ by a third, so its plain NME mixes face shape into expression. A
    constant expression held over the whole clip counts as shape here.
    """
    from doppel.faces.align import fit_face, transform_points

    if len(detected68) != len(truth68):
        raise ValueError(f"{len(detected68)} detected faces against {len(truth68)} true ones")
    unknown = [group for group in groups if group not in LANDMARK_GROUPS]
    if unknown:
        raise ValueError(f"unknown landmark groups {unknown}: choose from "
                         f"{', '.join(LANDMARK_GROUPS)}")
    if not detected68:
        return {group: float("nan") for group in groups}
    sides = []
    for faces in (detected68, truth68):
        points = [np.asarray(face, np.float64) for face in faces]
        if any(face.shape != (NUM_POINTS68, 2) for face in points):
            raise ValueError("expected (68, 2) point sets")
        sides.append(np.stack([transform_points(face, fit_face(face)) for face in points]))
    detected, truth = sides
    rest = np.median(truth, axis=0)
    scale = float(np.linalg.norm(rest[OUTER_EYE_CORNERS[0]] - rest[OUTER_EYE_CORNERS[1]]))
    moved = (detected - np.median(detected, axis=0)) - (truth - rest)
    errors = np.linalg.norm(moved, axis=2) / scale  # frames x 68
    return {group: float(np.median(errors[:, list(LANDMARK_GROUPS[group])].mean(axis=1)))
            for group in groups}


def placed_nme(target68: npt.NDArray[np.floating], truth68: npt.NDArray[np.floating]) -> float:
    """The landmark error ("all", as `landmark_nme`) of an ideal face swap that keeps the
    target's placement: the truth's own face (the source's shape, the target's expression,
    every point exact) put where the alignment puts the target's face (`fit_face`: eyes and
    nose, the same position, size and roll), scored against the truth. What a perfect model
    drawing aligned faces scores (doppel's, faceswap's and DeepFaceLab's conversions place the
    face so): when the source's head is larger or smaller than the target's, the truth's is
    too, and no placement known from the target's footage finds it. The floor of `nme_all` for
    such swappers, next to the detector's own floor.

    target68, truth68: one frame's iBUG-68 points, float (68, 2) pixels each."""
    from doppel.faces.align import fit_face, invert_matrix, transform_points

    truth = np.asarray(truth68, np.float64)
    # truth -> template by its own eyes and nose, then template -> frame as the target's face
    to_template = np.vstack([fit_face(truth), (0.0, 0.0, 1.0)])
    to_frame = np.vstack([invert_matrix(fit_face(np.asarray(target68, np.float64))),
                          (0.0, 0.0, 1.0)])
    placed = transform_points(truth, (to_frame @ to_template)[:2])
    return landmark_nme(placed, truth, ("all",))["all"]
