"""Training augmentation: from a batch of aligned face crops and their masks, the network's input
(each crop randomly moved, flipped, recoloured and warped), its target (the same without the
warp) and the target's mask, as float32 NCHW arrays.

One random similarity (rotation, zoom, shift about the crop's centre) and an optional mirror
image move input, target and mask alike; a faceswap-style random warp (a 5 x 5 grid of control
points shaken by normal noise, interpolated smoothly to every pixel) moves the input alone, so
the autoencoder learns to undo it; one colour change (saturation, contrast, brightness) recolours
input and target alike. The input is sampled once from the original crop through the composed
map, never resampled from the target: a second bilinear pass would blur it.

Speed, default options, N=16, one core (cv2.setNumThreads(1), OpenBLAS on one thread,
`taskset -c 0`) of a 2-core AMD EPYC VM whose other core was busy with another job; min and
median of 300 calls, two runs: S=64 2.6-3.4 ms min, 4.3-4.7 ms median (about 3 500 images/s);
S=128 7.5-8.0 ms min, 9.1-9.6 ms median (about 1 700 images/s). Warp 0 or colour off save
0.5-1 ms at S=64. About a third is cv2.remap (two 4-channel samplings per crop), a third the
per-crop 3 x 4 matrix product that recolours and turns HWC into CHW, the rest the warp maps
and numpy overhead. Work goes crop by crop: batch-sized temporaries cost a page fault per
4 KiB on every call (glibc hands them back to the kernel), which made the same work 7 ms.

Coordinates are pixels, the centre of pixel (row i, col j) at (x=j, y=i), as in
`doppel.faces.align`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from doppel.config import check_fields

# Control points of the random warp per side, spanning the crop edge to edge (faceswap's 5 x 5).
WARP_POINTS = 5
# Standard deviation of each control point's move per axis, as a share of the crop's side, at
# warp strength 1: faceswap's `5 / 256 * size`. At S=64 that is 1.25 px, and the mean length of
# the move over all pixels is about 1.2 px (S=128: 2.4 px); see `random_warp_maps`.
WARP_SIGMA = 5 / 256
# ITU-R BT.601 luma weights (RGB): the grey that saturation blends towards.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class AugmentOptions:
    """How strongly each training crop is randomly changed; 0 turns a change off."""

    rotation: float = field(default=10.0, metadata={
        "help": "largest rotation, degrees either way", "min": 0.0, "max": 180.0})
    zoom: float = field(default=0.05, metadata={
        "help": "largest change of scale, as a share (0.05: scale 0.95 to 1.05)", "min": 0.0,
        "max": 0.5})
    shift: float = field(default=0.05, metadata={
        "help": "largest shift along each axis, as a share of the crop's side", "min": 0.0,
        "max": 0.5})
    flip: float = field(default=0.5, metadata={
        "help": "chance of mirroring a crop left to right", "min": 0.0, "max": 1.0})
    warp: float = field(default=1.0, metadata={
        "help": "strength of the random warp of the network's input (1: faceswap's; 0: off)",
        "min": 0.0, "max": 10.0})
    brightness: float = field(default=0.1, metadata={
        "help": "largest change of brightness, added to values in [0, 1]", "min": 0.0,
        "max": 1.0})
    contrast: float = field(default=0.1, metadata={
        "help": "largest change of contrast, as a share", "min": 0.0, "max": 1.0})
    saturation: float = field(default=0.1, metadata={
        "help": "largest change of colour saturation, as a share", "min": 0.0, "max": 1.0})
    colour_transfer: float = field(default=0.0, metadata={
        "help": "chance that a source face takes a random target face's colours (mean and "
                "spread in Lab inside the face), so the source's decoder learns to draw the "
                "source under the target footage's light", "min": 0.0, "max": 1.0})

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, eq=False)
class Batch:
    """One training step's arrays, float32 NCHW (what torch wants).

    inputs: (N, 3, S, S) RGB in [0, 1], warped: what the network sees.
    targets: (N, 3, S, S) RGB in [0, 1]: what it should give back.
    masks: (N, 1, S, S) in [0, 1]: where the targets' face is, for weighting the loss.
    """

    inputs: npt.NDArray[np.float32]
    targets: npt.NDArray[np.float32]
    masks: npt.NDArray[np.float32]


def augment_batch(crops: npt.NDArray[np.uint8], masks: npt.NDArray[np.uint8],
                  rng: np.random.Generator, options: AugmentOptions = AugmentOptions()) -> Batch:
    """Randomly augment one training batch.

    crops: RGB uint8 (N, S, S, 3), aligned faces all of one size.
    masks: uint8 (N, S, S), 0..255, each crop's face mask.
    rng: the only source of randomness: the same generator state gives the same Batch. The
        draws do not depend on the options' values, so turning one change off leaves the others
        as they were.
    The Batch's arrays are C-contiguous; its inputs and targets are two halves of one buffer.
    """
    _check_batch(crops, masks)
    count = crops.shape[0]
    to_source = _random_geometry(count, crops.shape[1], rng, options)
    points = _random_warp_points(count, crops.shape[1], rng, options.warp)
    colour = _random_colour(count, rng, options)
    sampled = _sample_batch(crops, masks, to_source, points if options.warp else None)
    if options.brightness or options.contrast or options.saturation:
        matrix, offset = _colour_matrices(colour, sampled[1])
    else:
        matrix, offset = np.broadcast_to(np.eye(3, 4, dtype=np.float32) / 255, (count, 3, 4)), None
    images = _to_planar(sampled, matrix, offset)
    mask_out = np.divide(sampled[1, :, None, :, :, 3], np.float32(255), dtype=np.float32)
    return Batch(inputs=images[0], targets=images[1], masks=mask_out)


def random_warp_maps(size: int, rng: np.random.Generator, strength: float
                     ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """`cv2.remap` maps (map_x, map_y), each float32 (size, size), for a faceswap-style random
    warp: output pixel (x, y) samples the source at (map_x[y, x], map_y[y, x]).

    A 5 x 5 grid of control points from edge to edge (pixel centres 0 .. size - 1) each moves
    by normal noise of standard deviation `WARP_SIGMA * size * strength` per axis (faceswap's
    5/256 of the side at strength 1); Catmull-Rom interpolation spreads the moves smoothly to
    every pixel. Border control points move too (as in faceswap), so a map may point up to a
    few pixels outside the crop; sample with a border mode that fills that (augment_batch
    reflects). strength 0 gives the identity map exactly. `augment_batch` draws its warps the
    same way (then turns them with the crop's random rotation).
    """
    moves = _interpolate_points(_random_warp_points(1, size, rng, strength), size)[0]
    grid_x, grid_y = np.meshgrid(np.arange(size, dtype=np.float32),
                                 np.arange(size, dtype=np.float32))
    return grid_x + moves[0], grid_y + moves[1]


def _check_batch(crops: npt.NDArray[np.uint8], masks: npt.NDArray[np.uint8]) -> None:
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 \
            or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"crops must be RGB uint8 NxSxSx3, got {crops.dtype} {crops.shape}")
    if masks.dtype != np.uint8 or masks.shape != crops.shape[:3]:
        raise ValueError(f"masks must be uint8 {crops.shape[:3]}, got {masks.dtype} "
                         f"{masks.shape}")


def _random_geometry(count: int, size: int, rng: np.random.Generator,
                     options: AugmentOptions) -> npt.NDArray[np.float64]:
    """float64 (count, 2, 3): each output pixel -> the source crop pixel it shows."""
    angles = np.radians(rng.uniform(-1.0, 1.0, count) * options.rotation)
    scales = 1.0 + rng.uniform(-1.0, 1.0, count) * options.zoom
    offsets = rng.uniform(-1.0, 1.0, (count, 2)) * options.shift * size
    flips = rng.random(count) < options.flip
    centre = (size - 1) / 2
    cos, sin = np.cos(angles) * scales, np.sin(angles) * scales
    # Source -> output: rotate and scale about the centre, shift, then mirror about the centre.
    forward = np.zeros((count, 3, 3))
    forward[:, 0, 0], forward[:, 0, 1] = cos, sin
    forward[:, 1, 0], forward[:, 1, 1] = -sin, cos
    forward[:, :2, 2] = centre - forward[:, :2, :2] @ np.array([centre, centre]) + offsets
    forward[:, 2, 2] = 1.0
    mirror = np.diag([-1.0, 1.0, 1.0])
    mirror[0, 2] = 2 * centre
    forward[flips] = mirror @ forward[flips]
    return np.linalg.inv(forward)[:, :2]


def _random_warp_points(count: int, size: int, rng: np.random.Generator,
                        strength: float) -> npt.NDArray[np.float32]:
    """float32 (count, 2, WARP_POINTS, WARP_POINTS): each control point's (dx, dy) move in
    pixels."""
    noise = rng.standard_normal((count, 2, WARP_POINTS, WARP_POINTS), dtype=np.float32)
    return noise * np.float32(WARP_SIGMA * size * strength)


def _interpolate_points(points: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """float32 (..., 2, size, size): the control points' moves, float32 (..., 2, WARP_POINTS,
    WARP_POINTS), spread to every pixel."""
    weights = _spline_weights(size)
    return weights @ points @ weights.T


@functools.lru_cache(maxsize=8)
def _spline_weights(size: int) -> npt.NDArray[np.float32]:
    """float32 (size, WARP_POINTS), read-only: Catmull-Rom weights of the control points at
    each pixel (rows sum to 1), the control points at pixel centres 0 .. size - 1.

    Catmull-Rom rather than faceswap's bilinear resize: it passes through the control points
    like bilinear, but without creases along the grid lines that a network could learn.
    """
    last = WARP_POINTS - 1
    position = np.arange(size) * (last / max(size - 1, 1))
    left = np.minimum(np.floor(position).astype(int), last - 1)
    t = position - left
    taps = (
        (-t + 2 * t**2 - t**3) / 2,
        (2 - 5 * t**2 + 3 * t**3) / 2,
        (t + 4 * t**2 - 3 * t**3) / 2,
        (-t**2 + t**3) / 2,
    )
    weights = np.zeros((size, WARP_POINTS))
    rows = np.arange(size)
    for offset, tap in zip(range(-1, 3), taps):
        # Beyond the end points the end point repeats: the spline flattens at the crop's edge.
        np.add.at(weights, (rows, np.clip(left + offset, 0, last)), tap)
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def _random_colour(count: int, rng: np.random.Generator,
                   options: AugmentOptions) -> npt.NDArray[np.float32]:
    """float32 (count, 3): each crop's (saturation factor, contrast factor, brightness step)."""
    draws = rng.uniform(-1.0, 1.0, (count, 3))
    amounts = np.array([options.saturation, options.contrast, options.brightness])
    return (draws * amounts + np.array([1.0, 1.0, 0.0])).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _pixel_grid(size: int) -> npt.NDArray[np.float32]:
    """float32 (3, size * size), read-only: [x, y, 1] of every pixel, row by row."""
    grid_y, grid_x = np.mgrid[:size, :size].reshape(2, -1).astype(np.float32)
    grid = np.stack([grid_x, grid_y, np.ones_like(grid_x)])
    grid.setflags(write=False)
    return grid


def _sample_batch(crops: npt.NDArray[np.uint8], masks: npt.NDArray[np.uint8],
                  to_source: npt.NDArray[np.float64], points: npt.NDArray[np.float32] | None
                  ) -> npt.NDArray[np.uint8]:
    """uint8 (2, N, S, S, 4): [0] the inputs, [1] the targets, each RGB + mask, sampled once
    from the crops through the affine `to_source` (N, 2, 3), the inputs warped by the control
    points' moves `points` (N, 2, 5, 5) first (None: no warp, inputs = targets)."""
    import cv2

    count, size = crops.shape[:2]
    grid = _pixel_grid(size)
    linear = to_source[:, :, :2].astype(np.float32)
    if points is not None:
        # Input pixel p shows the target at p + move(p), which shows the crop at
        # to_source @ [p + move(p), 1]: one map, so the input is interpolated once. The
        # affine's linear part turns the moves at the control points: turning and
        # interpolating are both linear, so their order does not matter.
        points = np.einsum("nij,njkl->nikl", linear, points)
    # Mirrored, not black or smeared, beyond the crop's edge: rotation and shift uncover a few
    # pixels at the corners, and a reflection continues the background and hair there without
    # black wedges (which the decoder would have to learn to paint) or the streaks of repeated
    # edge pixels (faceswap's BORDER_REPLICATE). The mask reflects with the image, so it keeps
    # describing the target's pixels.
    border = cv2.BORDER_REFLECT_101
    sampled = np.empty((2, count, size, size, 4), np.uint8)
    # One 4-channel image samples faster than a 3-channel one and its mask apart (OpenCV's
    # vector code covers 1 and 4 channels). Work image by image: per-image temporaries stay in
    # cache and on the heap, where batch-sized ones cost page faults on every call.
    source = np.empty((size, size, 4), np.uint8)
    for index in range(count):
        cv2.merge((crops[index], masks[index]), dst=source)
        target_map = (to_source[index].astype(np.float32) @ grid).reshape(2, size, size)
        cv2.remap(source, target_map[0], target_map[1], cv2.INTER_LINEAR,
                  dst=sampled[1, index], borderMode=border)
        if points is None:
            sampled[0, index] = sampled[1, index]
            continue
        input_map = _interpolate_points(points[index], size)
        input_map += target_map
        cv2.remap(source, input_map[0], input_map[1], cv2.INTER_LINEAR,
                  dst=sampled[0, index], borderMode=border)
    return sampled


def _colour_matrices(colour: npt.NDArray[np.float32], targets: npt.NDArray[np.uint8]
                     ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per crop, float32 (N, 3, 4) matrices and (N, 3, 1) offsets taking its RGB + mask values
    0..255 to recoloured RGB in [0, 1] (before clipping), from each crop's (saturation,
    contrast, brightness) `colour` (N, 3) and its target, uint8 (N, S, S, 4).

    x -> c * (s * x + (1 - s) * grey(x)) + (1 - c) * mean + b, grey the BT.601 luma and mean
    the target's mean grey: one affine map of RGB per crop, so input and target alike.
    """
    import cv2

    saturation, contrast, brightness = (colour[:, i, None, None] for i in range(3))
    means = np.array([cv2.mean(target)[:3] for target in targets], np.float32)
    grey = (means @ LUMA / 255)[:, None, None]
    to_grey = np.broadcast_to(LUMA, (3, 3))
    matrix = np.zeros((colour.shape[0], 3, 4), np.float32)
    matrix[:, :, :3] = contrast * (saturation * np.eye(3) + (1 - saturation) * to_grey) / 255
    offset = (1 - contrast) * grey + brightness
    return matrix, np.broadcast_to(offset, (colour.shape[0], 3, 1)).astype(np.float32)


def _to_planar(sampled: npt.NDArray[np.uint8], matrix: npt.NDArray[np.float32],
               offset: npt.NDArray[np.float32] | None) -> npt.NDArray[np.float32]:
    """float32 (2, N, 3, S, S): RGB + mask `sampled` (uint8 (2, N, S, S, 4)) through each
    crop's `matrix` (N, 3, 4) and `offset` (N, 3, 1), clipped to [0, 1] when there is an
    offset."""
    halves, count, size = sampled.shape[:3]
    images = np.empty((halves, count, 3, size * size), np.float32)
    pixels = sampled.reshape(halves, count, -1, 4)
    # One matrix product per image applies the colour map and turns HWC into CHW at once.
    for half in range(halves):
        for index in range(count):
            np.matmul(matrix[index], pixels[half, index].T, out=images[half, index])
    if offset is not None:
        images += offset
        np.clip(images, 0.0, 1.0, out=images)
    return images.reshape(halves, count, 3, size, size)


def transfer_colours(crops: npt.NDArray[np.uint8], masks: npt.NDArray[np.uint8],
                     references: npt.NDArray[np.uint8], reference_masks: npt.NDArray[np.uint8],
                     rng: np.random.Generator, chance: float) -> npt.NDArray[np.uint8]:
    """`crops` (RGB uint8 N x S x S x 3), each with probability `chance` recoloured to one
    random crop of `references` (Reinhard et al. 2001: each Lab channel shifted and scaled to
    the reference's mean and standard deviation, both measured inside the face, where the
    masks (uint8 N x S x S) are > 0). DeepFaceLab's "rct" colour transfer. The draws do not
    depend on `chance` being 0 (one uniform and one index per crop, always). The transfer is
    doppel.swap.colour's, measured inside the faces and applied to the whole crop."""
    from doppel.swap.colour import apply_reinhard, lab_stats

    count = len(crops)
    picked = rng.random(count) < chance
    partners = rng.integers(0, len(references), count)
    if not picked.any():
        return crops
    out = crops.copy()
    whole = np.full(crops.shape[1:3], 255, np.uint8)  # recolour the whole crop: no seam
    for index in np.flatnonzero(picked):
        partner = partners[index]
        # packed masks: any level above 0 is on the face (colour's masks count above 127)
        own, theirs = ((mask > 0).astype(np.uint8) * 255
                       for mask in (masks[index], reference_masks[partner]))
        if (own > 0).sum() < 16 or (theirs > 0).sum() < 16:
            continue  # no face to measure: leave it
        out[index] = apply_reinhard(crops[index], whole, lab_stats(crops[index], own),
                                    lab_stats(references[partner], theirs))
    return out
