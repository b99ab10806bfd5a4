"""Masks from a face's 68 landmarks (iBUG-300W order): the face's hull with an estimated
forehead, and its parts (eyes, brows, nose, mouth) for weighting losses. They work in any pixel
frame — the video frame or an aligned crop — because every size is taken in template units
(`face_unit`): the alignment template's brows-to-chin height at this face's scale.

Measured against the rendered truth of synthetic actors (175 frames of the identity pool at
512 px, yaw within ±35°, dlib's 68-point predictions): the hull of jaw and brows alone covers the
skin inside the face oval with IoU 0.70; raising the brows by FOREHEAD_RAISE for a forehead
lifts it to 0.84 (0.90 on beardless faces: beards are not skin in the truth but lie inside any
hull of the jaw; 0.85 and 0.92 from the true mesh points). Raises of 0.20-0.25 of the
brows-to-chin height score best (0.15: 0.81, 0.30: 0.82).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from doppel.faces.align import check_points68, fit_face, invert_matrix

Part = Literal["eyes", "brows", "nose", "mouth"]
PARTS: tuple[str, ...] = get_args(Part)
# The forehead's top above the brows, in template units, at the brows' middle; towards the
# temples it drops as sqrt(1 - FOREHEAD_ROUNDING * u^2), u = -1..1 across the brows: a rounded
# top fits the truth a little better than a flat one (IoU 0.841 against 0.835).
FOREHEAD_RAISE = 0.25
FOREHEAD_ROUNDING = 0.5
# How far each part's mask reaches beyond the hull of its landmarks, in template units (the
# template's eye is 0.19 wide, its mouth 0.41): the lids, lashes and lip edges, and room for a
# detector's misses. Of the true eye (white and iris) and mouth (lips, teeth, cavity) pixels of
# synthetic actors the masks hold, from the true mesh points: eyes 1.00, mouth 0.99; from
# dlib's predictions: eyes 0.93 (10th percentile 0.75: dlib's eye points stray on some
# synthetic eyes), mouth 0.98 (0.96).
PART_MARGINS: dict[str, float] = {"eyes": 0.05, "brows": 0.03, "nose": 0.04, "mouth": 0.08}
BROW_DEPTH = 0.07  # the brow's height below its landmarks, which trace its top edge
_PART_POINTS: dict[str, tuple[range, ...]] = {
    "eyes": (range(36, 42), range(42, 48)),
    "brows": (range(17, 22), range(22, 27)),
    "nose": (range(27, 36),),
    "mouth": (range(48, 60),),
}
_SUBPIXEL = 4  # bits of fraction OpenCV's polygon filling keeps

Points = npt.NDArray[np.floating]
Mask = npt.NDArray[np.uint8]


def face_hull_mask(points68: Points, shape: tuple[int, ...], forehead: bool = True,
                   feather: float = 0.0, top: float | None = None) -> Mask:
    """uint8 (H, W), 255 inside the convex hull of the jaw and brows (and, when `forehead`,
    the estimated forehead above the brows), else 0.

    points68: float (68, 2) landmarks in the pixels of the picture the mask is for.
    shape: that picture's shape, (H, W) or (H, W, C).
    feather: Gaussian blur sigma in template units (0.02 is about 3 pixels on a 150-pixel
        face); the outline stays where it was (values near 128 on it).
    top: the forehead stays below this row (pixels); see `forehead_points`.
    """
    points = check_points68(points68)
    outline = points[:27]
    if forehead:
        outline = np.vstack([outline, forehead_points(points, top)])
    mask = _fill_hull(outline, shape)
    return _feather(mask, feather * face_unit(points)) if feather > 0 else mask


def forehead_points(points68: Points, top: float | None = None) -> npt.NDArray[np.float64]:
    """float64 (10, 2): the estimated top of the forehead above each brow point (17-26),
    FOREHEAD_RAISE template units up the face at the middle, less towards the temples.

    top: a row (pixels) the forehead must stay below, e.g. a little inside the top of a crop
    that shows only part of the forehead: the whole rise shrinks until its highest point
    touches that row, so the outline keeps its rounded top there instead of being cut
    straight by the crop's edge (a straight seam across the forehead shows in a swap)."""
    points = check_points68(points68)
    to_template = fit_face(points)
    up = invert_matrix(to_template)[:, :2] @ (0.0, -1.0)  # one template unit up the face
    across = (to_template[0, :2] @ points[17:27].T + to_template[0, 2] - 0.5) / 0.5
    rise = FOREHEAD_RAISE * np.sqrt(np.clip(1.0 - FOREHEAD_ROUNDING * across ** 2, 0.0, 1.0))
    if top is not None and up[1] < 0:
        room = (points[17:27, 1] - top) / (-up[1])  # template units each brow point may rise
        rise = rise * float(np.clip(np.min(room / np.maximum(rise, 1e-9)), 0.0, 1.0))
    return points[17:27] + rise[:, None] * up


def component_masks(points68: Points, shape: tuple[int, ...], feather: float = 0.0
                    ) -> dict[str, Mask]:
    """uint8 (H, W) 0/255 masks of the face's parts, keyed by PARTS:

    eyes: both eyes (hull of each eye's 6 points, PART_MARGINS["eyes"] wider) — the eyeball,
        lids and lashes, not the brows (those are "brows", so a loss can weigh them apart).
    brows: each brow from its landmarks down BROW_DEPTH. nose: bridge, tip and wings.
    mouth: the outer lips' hull, wider by its margin: lips, teeth and the open mouth.
    points68, shape and feather as for `face_hull_mask`.
    """
    points = check_points68(points68)
    unit = face_unit(points)
    down = invert_matrix(fit_face(points))[:, :2] @ (0.0, 1.0)
    masks = {}
    for part in PARTS:
        mask = np.zeros(shape[:2], np.uint8)
        for indices in _PART_POINTS[part]:
            outline = points[list(indices)]
            if part == "brows":
                outline = np.vstack([outline, outline + BROW_DEPTH * down])
            mask |= _fill_hull(outline, shape, PART_MARGINS[part] * unit)
        masks[part] = _feather(mask, feather * unit)
    return masks


def face_unit(points68: Points) -> float:
    """Pixels per template unit for this face: its brows-to-chin height as the alignment sees
    it (from the eyes and nose, so neither speech nor a raised brow changes it)."""
    to_template = fit_face(points68)
    return float(1.0 / np.sqrt(abs(np.linalg.det(to_template[:, :2]))))


def _fill_hull(points: npt.NDArray[np.float64], shape: tuple[int, ...], margin: float = 0.0
               ) -> Mask:
    """255 inside the convex hull of `points` (pixels), grown by `margin` pixels: a thick
    outline drawn over the filled hull is its dilation by a disc."""
    import cv2

    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.rint(points * (1 << _SUBPIXEL)).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_8, _SUBPIXEL)
    thickness = round(2 * margin)
    if thickness >= 1:
        cv2.polylines(mask, [hull], True, 255, thickness, cv2.LINE_8, _SUBPIXEL)
    return mask


def _feather(mask: Mask, sigma: float) -> Mask:
    import cv2

    if sigma <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), sigma)
