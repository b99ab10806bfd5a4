"""The classic landmark swap (FaceForensics++'s "FaceSwap"): the source face warped onto the
target's landmarks triangle by triangle, colour-corrected and blended into the target's face
hull. No learning: a baseline for the trained models and for detectors.

Triangulation: Delaunay of the target's 478 mediapipe landmarks (scipy). Unlike mediapipe's
own mesh triangles it also covers the eyes and the open mouth (holes in the mesh), so the
source's eyes and teeth come along; triangles are built on the target so none is degenerate
where pixels are drawn. The blend mask is the hull of the target's jaw and brows
(`face_hull_mask`, forehead=False as in FaceSwap) where the warp reaches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from doppel.faces.landmarks import points68_from_mediapipe
from doppel.faces.masks import face_hull_mask
from doppel.swap.blend import Blend, blend_face
from doppel.swap.colour import ColourTransfer, match_colour

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.uint8]
Points = npt.NDArray[np.floating]
NUM_LANDMARKS = 478
# The warp's coverage is eroded by this many pixels before it limits the blend mask, so
# Poisson cloning never reads the black outside the warp on the mask's outline.
COVERAGE_MARGIN = 2
# The part of the frame the swap works on: the target landmarks' box, this share of its larger
# side wider on each side. The mask (face hull, forehead included) stays inside the landmarks'
# box; the margin keeps the Poisson solve's boundary and the blend's soft edge inside too.
REGION_MARGIN = 0.25


def swap_face_classic(source_rgb: Image, source_landmarks: Points, frame_rgb: Image,
                      target_landmarks: Points, colour: str | ColourTransfer = "reinhard",
                      blend: str | Blend = "poisson", forehead: bool = False) -> Image:
    """`frame_rgb` (RGB uint8 HxWx3) with the face of `source_rgb` (RGB uint8) put over the
    face whose mediapipe landmarks (float (478, 2) pixels) are `target_landmarks`;
    `source_landmarks` are the source face's in `source_rgb`. Outside the target's face hull
    the frame is unchanged (up to the blend's soft edge).

    The work is done on the face's part of the frame (its landmarks' box, REGION_MARGIN
    wider on each side) and pasted back: the same pixels as on the whole frame, since the
    mask, and so the colour statistics and the Poisson boundary, lie inside it (tested), at a
    fraction of the cost on a large frame with a small face."""
    target = _check_landmarks(target_landmarks, "target")
    x0, y0, x1, y1 = _face_box(target, frame_rgb.shape, REGION_MARGIN)
    output = frame_rgb.copy()
    output[y0:y1, x0:x1] = swap_whole_frame(
        source_rgb, source_landmarks, np.ascontiguousarray(frame_rgb[y0:y1, x0:x1]),
        target - (x0, y0), colour, blend, forehead)
    return output


def swap_whole_frame(source_rgb: Image, source_landmarks: Points, frame_rgb: Image,
                     target_landmarks: Points, colour: str | ColourTransfer = "reinhard",
                     blend: str | Blend = "poisson", forehead: bool = False) -> Image:
    """`swap_face_classic` computed over every pixel of the frame (its reference)."""
    warped, coverage = warp_face(source_rgb, source_landmarks, frame_rgb.shape, target_landmarks)
    mask = swap_mask(target_landmarks, coverage, forehead)
    corrected = match_colour(colour, warped, frame_rgb, mask)
    return blend_face(blend, corrected, frame_rgb, mask)


def _face_box(points: npt.NDArray[np.float64], shape: tuple[int, ...], margin: float
              ) -> tuple[int, int, int, int]:
    """The points' box grown by `margin` of its larger side (and 8 pixels) on each side, cut
    at the frame's edges: (x0, y0, x1, y1) integer pixels, end exclusive."""
    height, width = shape[:2]
    low, high = points.min(axis=0), points.max(axis=0)
    grow = margin * float((high - low).max()) + 8.0
    x0, y0 = (max(int(np.floor(v - grow)), 0) for v in low)
    x1 = min(int(np.ceil(high[0] + grow)) + 1, width)
    y1 = min(int(np.ceil(high[1] + grow)) + 1, height)
    return x0, y0, max(x1, x0), max(y1, y0)


def warp_face(source_rgb: Image, source_landmarks: Points, target_shape: tuple[int, ...],
              target_landmarks: Points) -> tuple[Image, Mask]:
    """The source picture warped piecewise-affinely so its landmarks land on the target's:
    RGB uint8 (H, W, 3) for `target_shape` (H, W[, C]), black where nothing lands, and its
    coverage, uint8 (H, W), 255 where the warp drew (inside the triangulation, from inside
    the source picture)."""
    from scipy.spatial import Delaunay
    import cv2

    source = _check_landmarks(source_landmarks, "source")
    target = _check_landmarks(target_landmarks, "target")
    height, width = target_shape[:2]
    rows, cols = _pixels_under(target, height, width)
    map_x = np.full((height, width), -1.0, dtype=np.float32)
    map_y = np.full((height, width), -1.0, dtype=np.float32)
    coverage = np.zeros((height, width), dtype=np.uint8)
    if rows.size == 0:
        return np.zeros((height, width, 3), dtype=np.uint8), coverage
    triangulation = Delaunay(target)
    pixels = np.column_stack([cols, rows]).astype(np.float64)
    simplex = triangulation.find_simplex(pixels)
    inside = simplex >= 0
    mapped = _map_through(triangulation, source, pixels[inside], simplex[inside])
    rows, cols = rows[inside], cols[inside]
    source_height, source_width = source_rgb.shape[:2]
    reaches = ((mapped[:, 0] >= 0) & (mapped[:, 0] <= source_width - 1)
               & (mapped[:, 1] >= 0) & (mapped[:, 1] <= source_height - 1))
    map_x[rows, cols] = mapped[:, 0]
    map_y[rows, cols] = mapped[:, 1]
    coverage[rows[reaches], cols[reaches]] = 255
    warped = cv2.remap(source_rgb, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    warped[coverage == 0] = 0
    return warped, coverage


def swap_mask(target_landmarks: Points, coverage: Mask, forehead: bool = False) -> Mask:
    """uint8 (H, W), 255 where the swap replaces the frame: the target's face hull from its
    68 points, within the warp's coverage less COVERAGE_MARGIN pixels."""
    import cv2

    points68 = points68_from_mediapipe(_check_landmarks(target_landmarks, "target"))
    hull = face_hull_mask(points68, coverage.shape, forehead=forehead)
    size = 2 * COVERAGE_MARGIN + 1
    reached = cv2.erode(coverage, np.ones((size, size), dtype=np.uint8),
                        borderType=cv2.BORDER_CONSTANT, borderValue=255)
    return np.minimum(hull, reached)


def _pixels_under(points: npt.NDArray[np.float64], height: int, width: int
                  ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Rows and columns of the frame's pixels in the points' bounding box."""
    low = np.maximum(np.floor(points.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, (width, height))
    rows, cols = np.mgrid[low[1]:max(high[1], low[1]), low[0]:max(high[0], low[0])]
    return rows.ravel(), cols.ravel()


def _map_through(triangulation, source: npt.NDArray[np.float64],
                 pixels: npt.NDArray[np.float64], simplex: npt.NDArray[np.intp]
                 ) -> npt.NDArray[np.float64]:
    """Where `pixels` (x, y), inside target triangles `simplex`, fall in the source: the same
    barycentric coordinates in the source's triangle."""
    transform = triangulation.transform[simplex]
    partial = np.einsum("nij,nj->ni", transform[:, :2], pixels - transform[:, 2])
    weights = np.column_stack([partial, 1.0 - partial.sum(axis=1)])
    corners = source[triangulation.simplices[simplex]]
    return np.einsum("ni,nij->nj", weights, corners)


def _check_landmarks(landmarks: Points, name: str) -> npt.NDArray[np.float64]:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected {name} mediapipe landmarks ({NUM_LANDMARKS}, 2), "
                         f"got shape {points.shape}")
    return points
