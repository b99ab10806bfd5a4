"""Self-blended images: fakes made from one real face, for training the forensic detector.

The idea of Shiohara & Yamasaki (CVPR 2022, "SBI"): a face blended with a slightly altered
copy of itself, through a randomly deformed mask of its landmark hull, shows what every
swap leaves whatever made the new face: a blending boundary, colour and sharpness that differ
inside and outside it, a face a pixel or two off its head. No swap method's own fingerprint
is in it, so a detector taught on it generalises to swaps it never saw (the paper's finding,
which the Detect benchmark checks on held-out actors and unseen methods).

Everything works on an aligned crop and its landmarks in crop pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Weights = npt.NDArray[np.float32]

# Blend ratios drawn uniformly; 1 (the copy replaces the face) most often, as in the paper.
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class BlendOptions:
    """How far the copy and the mask are altered (each drawn uniformly up to its amount).

    colour: per-channel gain and offset, as a share (0.06: +-6 % gain, +-0.06 x 255 offset);
    scale: the copy's zoom; shift: its move, a share of the crop's side; warp: the mask's
    elastic deformation, a share of the side per control point (standard deviation);
    grow: the mask's erosion or dilation, a share of the side; soften: the mask's largest
    Gaussian edge (sigma), a share of the side."""

    colour: float = 0.06
    scale: float = 0.04
    shift: float = 0.02
    warp: float = 0.02
    grow: float = 0.03
    soften: float = 0.04


def self_blend(crop: Image, points68: npt.NDArray[np.floating], rng: np.random.Generator,
               options: BlendOptions = BlendOptions()) -> tuple[Image, Weights]:
    """A fake made of `crop` (RGB uint8 SxSx3, an aligned face) and an altered copy of it,
    and the blend's weights (float32 SxS in [0, 1]: the copy's share at each pixel; 0 where
    the picture is `crop` exactly). points68: float (68, 2), the face's landmarks in crop
    pixels."""
    copy = _alter(crop, rng, options)
    weights = blend_mask(points68, crop.shape[0], rng, options)
    mixed = crop + weights[..., None] * (copy.astype(np.float32) - crop)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8), weights


def blend_mask(points68: npt.NDArray[np.floating], size: int, rng: np.random.Generator,
               options: BlendOptions = BlendOptions()) -> Weights:
    """float32 (size, size) in [0, 1]: the face's landmark hull (with the forehead half the
    time), elastically deformed, eroded or dilated, softened and scaled by a blend ratio."""
    import cv2

    from doppel.faces.masks import face_hull_mask
    from doppel.train.augment import WARP_SIGMA, random_warp_maps

    hull = face_hull_mask(points68, (size, size), forehead=bool(rng.random() < 0.5))
    # random_warp_maps moves its control points by WARP_SIGMA x side x strength
    map_x, map_y = random_warp_maps(size, rng, options.warp / WARP_SIGMA)
    mask = cv2.remap(hull, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    radius = int(round(rng.uniform(-1.0, 1.0) * options.grow * size))
    if radius:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1,) * 2)
        mask = (cv2.dilate if radius > 0 else cv2.erode)(mask, disc)
    weights = mask.astype(np.float32) / 255
    sigma = rng.uniform(0.1, 1.0) * options.soften * size
    weights = cv2.GaussianBlur(weights, (0, 0), sigma)
    # Blurring widens the edge outwards as much as inwards; blurring again after cutting it
    # back to the mask keeps the soft edge on both sides of the outline, as a real blend's.
    weights = cv2.GaussianBlur(np.where(mask > 0, weights, 0.0).astype(np.float32), (0, 0),
                               sigma / 2)
    return np.clip(weights * rng.choice(BLEND_RATIOS), 0.0, 1.0).astype(np.float32)


def _alter(crop: Image, rng: np.random.Generator, options: BlendOptions) -> Image:
    """The copy: colour shifted, blurred or sharpened, zoomed and moved a little."""
    import cv2

    size = crop.shape[0]
    gain = 1.0 + rng.uniform(-1.0, 1.0, 3) * options.colour
    offset = rng.uniform(-1.0, 1.0, 3) * options.colour * 255
    picture = crop.astype(np.float32) * gain.astype(np.float32) + offset.astype(np.float32)
    sigma = rng.uniform(0.5, 1.5)
    blurred = cv2.GaussianBlur(picture, (0, 0), sigma)
    if rng.random() < 0.5:
        picture = blurred  # the softer face of an upscaled or compressed swap
    else:
        picture = picture + rng.uniform(0.3, 1.0) * (picture - blurred)  # unsharp mask
    scale = 1.0 + rng.uniform(-1.0, 1.0) * options.scale
    shift = rng.uniform(-1.0, 1.0, 2) * options.shift * size
    centre = (size - 1) / 2
    matrix = np.array([[scale, 0.0, centre - scale * centre + shift[0]],
                       [0.0, scale, centre - scale * centre + shift[1]]])
    picture = cv2.warpAffine(picture, matrix, (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)
