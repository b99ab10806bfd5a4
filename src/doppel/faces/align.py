"""Face alignment: a similarity transform from a face's 68 landmarks (iBUG-300W order) to a
canonical template, square crops at three coverages, and pasting a crop back into its frame.

The similarity (rotation, uniform scale, translation; never a reflection) takes its rotation from
the eyes (`ROTATION_POINTS`, Umeyama's fit) and its scale and translation from the eyes and nose
(`ALIGN_POINTS`, least squares under that rotation). Measured on rendered synthetic actors with
exact landmarks (their true mesh points through `points68_from_mediapipe`), six pool actors:
- held at a fixed pose while they talk, smile, blink and raise their brows, the crop moves by
  (std of fixed head points, % of the template's width) 0.12 with eyes + nose, 0.22 with the
  brows too, 0.64 with all but the jaw, 0.48 with all 68 points: the mouth and chin move with
  speech, the brows with surprise;
- turning to ±42° yaw, one Umeyama fit on eyes + nose tilts the crop by 13° (the nose's tip
  swings further than its bridge); taking the rotation from the eyes alone leaves 0.4°. The face
  then grows by 6 % in the crop (fitting the eyes alone: 41 %, as the eye line foreshortens) and
  slides sideways by 3 % of the template's width, smoothly.

Coordinates are pixels, the centre of pixel (row i, col j) at (x=j, y=i), in the frame and in
the crop alike. A matrix is float64 (2, 3) mapping [x, y, 1] of the frame to the crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError

Coverage = Literal["face", "whole-face", "head"]
COVERAGES: tuple[str, ...] = get_args(Coverage)
MIN_SIZE, MAX_SIZE = 64, 1024
NUM_POINTS = 68
# Eyes (36-47) and nose (27-35): they move least with expression (see the module docstring).
ALIGN_POINTS = np.arange(27, 48)
# The eyes alone give the rotation: their line stays level as the head turns.
ROTATION_POINTS = np.arange(36, 48)
# Each iBUG-68 point's mirror image (the subject's right <-> left).
MIRROR68 = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48,
                     59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65])

Matrix = npt.NDArray[np.float64]
Points = npt.NDArray[np.floating]


def _freeze(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    array.setflags(write=False)
    return array


# The canonical face in the unit square, made by tools/make_align_template.py: the
# mirror-symmetric mean of dlib's 68-point predictions on the identity pool's frontal renders,
# aligned by `fit_face`; bounding box centred, longer side 1 (x jaw to jaw, y brows to chin).
# Its brows, eyes, nose and mouth lie within 1.8 % (mean; 4.4 % at most) of the eye distance of
# a published mean of real faces (faceswap's 51-point mean face): synthetic actors do not bend it
# away from real faces.
TEMPLATE = _freeze(np.array([
    (0.00063, 0.17358), (0.00707, 0.30819), (0.01919, 0.44163), (0.04098, 0.57497),
    (0.08582, 0.70041), (0.15818, 0.81145), (0.25565, 0.90630), (0.36819, 0.97928),
    (0.50000, 1.00000), (0.63181, 0.97928), (0.74435, 0.90630), (0.84182, 0.81145),
    (0.91418, 0.70041), (0.95902, 0.57497), (0.98081, 0.44163), (0.99293, 0.30819),
    (0.99937, 0.17358), (0.07986, 0.08925), (0.14142, 0.02381), (0.23187, 0.00000),
    (0.32740, 0.00599), (0.41498, 0.04137), (0.58502, 0.04137), (0.67260, 0.00599),
    (0.76813, 0.00000), (0.85858, 0.02381), (0.92014, 0.08925), (0.50000, 0.14345),
    (0.50000, 0.23422), (0.50000, 0.32328), (0.50000, 0.41660), (0.39053, 0.46836),
    (0.44266, 0.48818), (0.50000, 0.50553), (0.55734, 0.48818), (0.60947, 0.46836),
    (0.17756, 0.16533), (0.23362, 0.13012), (0.30416, 0.13244), (0.36366, 0.17929),
    (0.29832, 0.19474), (0.22857, 0.19324), (0.63634, 0.17929), (0.69584, 0.13244),
    (0.76638, 0.13012), (0.82244, 0.16533), (0.77143, 0.19324), (0.70168, 0.19474),
    (0.29394, 0.64514), (0.37296, 0.61671), (0.44652, 0.60179), (0.50000, 0.61344),
    (0.55348, 0.60179), (0.62704, 0.61671), (0.70606, 0.64514), (0.63032, 0.71023),
    (0.55776, 0.73488), (0.50000, 0.73907), (0.44224, 0.73488), (0.36968, 0.71023),
    (0.32686, 0.65083), (0.44565, 0.64822), (0.50000, 0.65324), (0.55435, 0.64822),
    (0.67314, 0.65083), (0.55477, 0.66923), (0.50000, 0.67512), (0.44523, 0.66923),
]))

# What each coverage shows: the square window (left, top, side) of template units the crop
# spans, so that crop unit = template * scale + offset with scale = 1 / side and
# offset = -(left, top) / side. In template units the brows' top is y 0 and the chin y 1; on 175
# renders of the pool's actors the forehead's skin reaches y -0.26 (median; -0.37 at the 5th
# percentile, -0.44 at most), the hair's top y -0.68 (-0.84; -0.96), the chin y 1.0 (1.16 at the
# 95th; 1.21) and ears and hair x -0.25..1.24 (5th-95th percentile).
WINDOWS: dict[str, tuple[float, float, float]] = {
    "face": (-0.15, -0.15, 1.30),  # brows to chin with a little room: long chins fit
    "whole-face": (-0.325, -0.45, 1.65),  # the whole forehead too
    "head": (-0.625, -1.0, 2.25),  # hair, ears and a turned head's back
}


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """One face cut out of its frame, aligned to the template.

    image: RGB uint8 (size, size, 3); outside the frame it is black.
    matrix: float64 (2, 3), frame pixels -> crop pixels (`inverse` goes back).
    size: the crop's side in pixels. coverage: one of COVERAGES.
    points68: float32 (68, 2), the face's landmarks in crop pixels.
    """

    image: npt.NDArray[np.uint8]
    matrix: Matrix
    size: int
    coverage: Coverage
    points68: npt.NDArray[np.float32]

    @property
    def inverse(self) -> Matrix:
        """float64 (2, 3), crop pixels -> frame pixels."""
        return invert_matrix(self.matrix)


def align_matrix(points68: Points, size: int = 256, coverage: Coverage = "face") -> Matrix:
    """The float64 (2, 3) matrix taking frame pixels to a `size`-pixel square crop in which
    the face's eyes and nose lie on the template at `coverage`.

    points68: float (68, 2), the face's iBUG-68 landmarks in frame pixels.
    """
    return _compose(_unit_to_crop(size, coverage), fit_face(points68))


def align_face(rgb: npt.NDArray[np.uint8], points68: Points, size: int = 256,
               coverage: Coverage = "face") -> AlignedFace:
    """Cut the face with landmarks `points68` (float (68, 2), frame pixels) out of `rgb`
    (RGB uint8 HxWx3) as a `size` x `size` crop aligned to the template at `coverage`."""
    rgb = _check_image(rgb, "frame")
    matrix = align_matrix(points68, size, coverage)
    image = _warp(rgb, invert_matrix(matrix), size, size)
    points = transform_points(np.asarray(points68, np.float64), matrix).astype(np.float32)
    return AlignedFace(image=image, matrix=matrix, size=size, coverage=coverage, points68=points)


def paste_face(frame: npt.NDArray[np.uint8], crop: npt.NDArray[np.uint8], matrix: Matrix,
               mask: npt.NDArray[np.uint8] | npt.NDArray[np.float32] | None = None
               ) -> npt.NDArray[np.uint8]:
    """A copy of `frame` (RGB uint8 HxWx3) with `crop` (RGB uint8 SxSx3) warped back into it.

    matrix: float64 (2, 3), frame -> crop, as the crop was cut (`AlignedFace.matrix`).
    mask: where the crop replaces the frame, (S, S) uint8 0..255 or float32 0..1, warped back
        with the crop and used as the blending weight; None takes the whole crop (its outer
        pixel edge still fades over one pixel). Only the frame pixels the mask reaches are read
        and written.
    """
    frame = _check_image(frame, "frame")
    crop = _check_image(crop, "crop")
    alpha = _mask_weights(mask, crop.shape[:2])
    region = _mask_region(alpha, matrix, frame.shape[:2])
    pasted = frame.copy()
    if region is None:
        return pasted
    x0, y0, x1, y1 = region
    # A matrix for the region's own pixels: region pixel q is frame pixel q + (x0, y0).
    shifted = matrix.astype(np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ (x0, y0)
    width, height = x1 - x0, y1 - y0
    face = _warp(crop, shifted, width, height).astype(np.float32)
    weight = _warp(alpha, shifted, width, height, sharp=False)[..., None]
    under = pasted[y0:y1, x0:x1].astype(np.float32)
    pasted[y0:y1, x0:x1] = np.rint(under + (face - under) * weight).astype(np.uint8)
    return pasted


def reframe_matrix(size_from: int, coverage_from: Coverage, size_to: int,
                   coverage_to: Coverage) -> Matrix:
    """float64 (2, 3): pixels of a `size_from` crop at `coverage_from` -> pixels of the same
    face's `size_to` crop at `coverage_to` (both windows are fixed in template units, so this
    needs no landmarks). A face kept at a wide coverage can then be trained at a narrower one.
    Refused when `coverage_to` reaches outside `coverage_from` (the crop holds no pixels
    there)."""
    if not covers(coverage_from, coverage_to):
        raise DoppelError(f"a {coverage_from!r} crop does not hold a {coverage_to!r} one: "
                          f"extract the faces again with --coverage {coverage_to}")
    return _compose(_unit_to_crop(size_to, coverage_to),
                    invert_matrix(_unit_to_crop(size_from, coverage_from)))


def covers(outer: Coverage, inner: Coverage) -> bool:
    """Whether a crop at coverage `outer` shows everything a crop at `inner` shows."""
    (left_o, top_o, side_o), (left_i, top_i, side_i) = WINDOWS[outer], WINDOWS[inner]
    return (left_o <= left_i and top_o <= top_i and left_o + side_o >= left_i + side_i
            and top_o + side_o >= top_i + side_i)


def warp_crop(crop: npt.NDArray[np.generic], to_new: Matrix, size: int,
              sharp: bool = True) -> npt.NDArray[np.generic]:
    """`crop` (H x W or H x W x C) through `to_new` (old crop pixels -> new), as a `size`
    pixel square; sampled as align_face samples frames (bicubic when enlarging and `sharp`,
    box-averaged when shrinking by 2 or more)."""
    return _warp(np.ascontiguousarray(crop), invert_matrix(to_new), size, size, sharp)


def template_points(size: int = 256, coverage: Coverage = "face") -> npt.NDArray[np.float32]:
    """float32 (68, 2): where the template's landmarks lie in a `size`-pixel crop at `coverage`."""
    return transform_points(TEMPLATE, _unit_to_crop(size, coverage)).astype(np.float32)


def fit_face(points68: Points, template: Points = TEMPLATE) -> Matrix:
    """The similarity, float64 (2, 3), taking a face's landmarks (float (68, 2), any pixel
    frame) onto `template` (float (68, 2); the canonical TEMPLATE, whose units are the unit
    square's): rotation from the eyes, scale and translation from eyes and nose."""
    points = check_points68(points68)
    template = np.asarray(template, np.float64)
    turn = fit_similarity(points[ROTATION_POINTS], template[ROTATION_POINTS])[:, :2]
    rotation = turn / np.sqrt(np.linalg.det(turn))  # a proper rotation: the fit never mirrors
    source = points[ALIGN_POINTS] @ rotation.T
    target = template[ALIGN_POINTS]
    source_centred = source - source.mean(axis=0)
    scale = (source_centred * (target - target.mean(axis=0))).sum() / (source_centred ** 2).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target.mean(axis=0) - scale * source.mean(axis=0)
    return matrix


def fit_similarity(source: Points, target: Points) -> Matrix:
    """The least-squares similarity (rotation, uniform scale, translation; never a reflection)
    taking `source` points onto `target` points, float (N, 2) each, N >= 2: Umeyama's method
    (IEEE TPAMI 13(4), 1991). Returns float64 (2, 3)."""
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 \
            or len(source) < 2:
        raise ValueError(f"need two (N, 2) point sets, N >= 2; got {source.shape}, "
                         f"{target.shape}")
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    spread = (source_centred ** 2).sum(axis=1).mean()
    if not spread > 0:
        raise ValueError("the source points all coincide; no similarity is defined")
    # In the plane Umeyama's SVD has a closed form: the best proper rotation turns by
    # atan2(b, a) and the scale is hypot(a, b) / spread (for a mirrored point set this is the
    # SVD's answer with the weakest axis flipped, Umeyama's S matrix).
    a = (source_centred * target_centred).sum() / len(source)
    b = (source_centred[:, 0] * target_centred[:, 1]
         - source_centred[:, 1] * target_centred[:, 0]).sum() / len(source)
    length = float(np.hypot(a, b))
    rotation = np.array([[a, -b], [b, a]]) / length if length > 0 else np.eye(2)
    scale = length / spread
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = target_mean - matrix[:, :2] @ source_mean
    return matrix


def invert_matrix(matrix: Matrix) -> Matrix:
    """The inverse of an invertible affine matrix, float (2, 3) -> float64 (2, 3)."""
    matrix = np.asarray(matrix, np.float64)
    linear = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear, -linear @ matrix[:, 2:]])


def transform_points(points: Points, matrix: Matrix) -> npt.NDArray[np.float64]:
    """float (N, 2) points through a (2, 3) affine matrix: float64 (N, 2)."""
    points = np.asarray(points, np.float64)
    matrix = np.asarray(matrix, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def check_size(size: int) -> int:
    """`size` if it is a valid crop side (MIN_SIZE..MAX_SIZE pixels), else a DoppelError."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or not MIN_SIZE <= size <= MAX_SIZE:
        raise DoppelError(f"crop size must be a whole number of pixels from {MIN_SIZE} to "
                          f"{MAX_SIZE}, got {size!r}: pick a size in that range")
    return int(size)


def check_points68(points68: Points) -> npt.NDArray[np.float64]:
    """`points68` as float64 (68, 2) if they are finite iBUG-68 landmarks, else a ValueError."""
    points = np.asarray(points68, np.float64)
    if points.shape != (NUM_POINTS, 2):
        raise ValueError(f"expected iBUG-68 landmarks of shape (68, 2), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("landmarks contain NaN or infinity")
    return points


def _unit_to_crop(size: int, coverage: Coverage) -> Matrix:
    """Template units -> crop pixels: the coverage's window fills the crop, edge to edge (pixel
    centres sit half a pixel inside)."""
    size = check_size(size)
    if coverage not in WINDOWS:
        raise DoppelError(f"unknown coverage {coverage!r}: choose one of "
                          f"{', '.join(COVERAGES)}")
    left, top, side = WINDOWS[coverage]
    step = size / side
    return np.array([[step, 0.0, -left * step - 0.5], [0.0, step, -top * step - 0.5]])


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The affine matrix applying `inner` first, then `outer`."""
    return np.hstack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2:] + outer[:, 2:]])


def _warp(source: npt.NDArray[np.generic], to_source: Matrix, width: int, height: int,
          sharp: bool = True) -> npt.NDArray[np.generic]:
    """A width x height picture whose pixel p is `source` sampled at `to_source` @ [p, 1], black
    outside the source.

    Enlarging samples bicubically when `sharp` (a crop that goes back and forth keeps more
    detail: mean round-trip error 0.75 grey levels instead of 1.05), else bilinearly (weights
    must not overshoot). Shrinking by a step of k + r source pixels per output pixel (k >= 2
    whole, 0 <= r < 1) first box-averages the part of the source it reads k times smaller
    (INTER_AREA), then samples that bilinearly: bilinear taps alone skip pixels and alias (mean
    error against a 4x supersampled crop 1.44 at step 4.4, 0.98 this way), while shrinking all
    the way first blurs twice (worse than bilinear below step 3).
    """
    import cv2

    step = float(np.sqrt(abs(np.linalg.det(to_source[:, :2]))))
    if step >= 2.0:
        shrunk = _shrink_source(source, to_source, width, height, float(np.floor(step)))
        if shrunk is None:
            return np.zeros((height, width, *source.shape[2:]), source.dtype)
        source, to_source = shrunk
    interpolation = cv2.INTER_CUBIC if sharp and step < 1.0 else cv2.INTER_LINEAR
    # Black, not reflected, beyond the frame: mirrored content would invent a second face half
    # at the edge for models to learn from; black is plainly "nothing here".
    return cv2.warpAffine(source, to_source, (width, height),
                          flags=interpolation | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _shrink_source(source: npt.NDArray[np.generic], to_source: Matrix, width: int, height: int,
                   factor: float) -> tuple[npt.NDArray[np.generic], Matrix] | None:
    """The part of `source` the warp reads, shrunk `factor` times with INTER_AREA, and the
    matrix into it; None when the warp reads nothing of the source."""
    import cv2

    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5],
                        [width - 0.5, height - 0.5]])
    reach = transform_points(corners, to_source)
    margin = 2 * factor + 2  # the bilinear taps of the shrunk source beyond the footprint
    rows, columns = source.shape[:2]
    x0 = max(int(np.floor(reach[:, 0].min() - margin)), 0)
    y0 = max(int(np.floor(reach[:, 1].min() - margin)), 0)
    x1 = min(int(np.ceil(reach[:, 0].max() + margin)) + 1, columns)
    y1 = min(int(np.ceil(reach[:, 1].max() + margin)) + 1, rows)
    if x1 <= x0 or y1 <= y0:
        return None
    shrunk_width = max(1, round((x1 - x0) / factor))
    shrunk_height = max(1, round((y1 - y0) / factor))
    shrunk = cv2.resize(source[y0:y1, x0:x1], (shrunk_width, shrunk_height),
                        interpolation=cv2.INTER_AREA)
    # cv2.resize maps pixel centres as x' = f (x + 0.5) - 0.5, f the size ratio of each axis.
    ratio = np.array([shrunk_width / (x1 - x0), shrunk_height / (y1 - y0)])
    matrix = to_source * ratio[:, None]
    matrix[:, 2] += ratio * (0.5 - np.array([x0, y0])) - 0.5
    return shrunk, matrix


def _mask_weights(mask: npt.NDArray[np.generic] | None, shape: tuple[int, ...]
                  ) -> npt.NDArray[np.float32]:
    if mask is None:
        return np.ones(shape, np.float32)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"the mask must be {shape} like the crop, got {mask.shape}")
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) / 255.0
    return np.clip(mask.astype(np.float32), 0.0, 1.0)


def _mask_region(alpha: npt.NDArray[np.float32], matrix: Matrix, frame_shape: tuple[int, ...]
                 ) -> tuple[int, int, int, int] | None:
    """The frame pixels (x0, y0, x1, y1), ends exclusive, that the mask's nonzero part reaches."""
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    columns = np.flatnonzero(alpha.max(axis=0) > 0)
    if not len(rows):
        return None
    corners = np.array([[columns[0] - 1, rows[0] - 1], [columns[-1] + 1, rows[0] - 1],
                        [columns[0] - 1, rows[-1] + 1], [columns[-1] + 1, rows[-1] + 1]],
                       np.float64)
    reach = transform_points(corners, invert_matrix(matrix))
    height, width = frame_shape
    x0 = max(int(np.floor(reach[:, 0].min())), 0)
    y0 = max(int(np.floor(reach[:, 1].min())), 0)
    x1 = min(int(np.ceil(reach[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(reach[:, 1].max())) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _check_image(rgb: npt.NDArray[np.uint8], name: str) -> npt.NDArray[np.uint8]:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"the {name} must be RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    return rgb
