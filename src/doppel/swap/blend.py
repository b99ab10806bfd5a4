"""Blending: put a face (already in the frame's pixels) into the frame inside a mask: with a
feathered alpha, by Poisson (gradient-domain) cloning, or band by band (Laplacian pyramid)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from doppel.registry import Registry

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.uint8]
Blend = Callable[..., Image]  # (face, frame, mask, feather=None) -> frame with the face in

BLENDS: Registry[Blend] = Registry("blend")
MASK_THRESHOLD = 127  # a mask pixel counts when it is above this (uint8 masks, 255 = use)
# Alpha feather: Gaussian sigma as a share of the mask's size (square root of its area), after
# eroding by two sigmas so the soft edge lies inside the mask and the frame around it stays.
FEATHER = 0.03
# Poisson cloning: pixels of frame around the mask's box, so OpenCV never meets the border
# (seamlessClone fails or shifts the face when the mask touches it).
POISSON_MARGIN = 8
# Laplacian blend: most bands; the coarsest spans 2^levels pixels (5: 32 px, a cheek's
# shading on a 720p face), and never more than a quarter of the face.
LAPLACIAN_LEVELS = 5


def blend_face(name: str | Blend, face: Image, frame: Image, mask: Mask,
               feather: float | None = None) -> Image:
    """`frame` (RGB uint8 HxWx3) with `face` (the same size) put in where `mask` (uint8 HxW,
    255 = face) says, by the blend `name`; far from the mask the frame is unchanged.
    feather: the soft edge's width in pixels (Gaussian sigma) for the blends that feather
    (alpha, laplacian); None: FEATHER x the mask's size."""
    if face.shape != frame.shape or face.dtype != np.uint8 or frame.dtype != np.uint8:
        raise ValueError(f"face {face.dtype} {face.shape} must match frame {frame.shape}, uint8")
    if frame.ndim != 3 or frame.shape[2] != 3 or mask.shape != frame.shape[:2]:
        raise ValueError(f"expected RGB HxWx3 frame and HxW mask, got {frame.shape}, {mask.shape}")
    return BLENDS.get(name)(face, frame, mask, feather=feather)


@BLENDS.register("alpha")
def blend_alpha(face: Image, frame: Image, mask: Mask, feather: float | None = None) -> Image:
    """Alpha compositing through the mask, eroded a little and feathered in proportion to its
    size; a full mask gives the face, an empty one the frame."""
    alpha = feather_mask(mask, feather)
    output = frame + alpha[..., None] * (face.astype(np.float32) - frame)
    return np.clip(np.rint(output), 0, 255).astype(np.uint8)


@BLENDS.register("poisson")
def blend_poisson(face: Image, frame: Image, mask: Mask, feather: float | None = None
                  ) -> Image:
    """OpenCV's seamless cloning (NORMAL_CLONE, Pérez et al. 2003): inside the mask the face's
    gradients, on its outline the frame's values. Works on the mask's box only, padded by
    reflection where it touches the border. Its edge is the gradient field's: `feather` does
    not apply."""
    import cv2

    binary = np.where(mask > MASK_THRESHOLD, 255, 0).astype(np.uint8)
    rows, cols = np.nonzero(binary)
    if rows.size == 0:
        return frame.copy()
    pad = POISSON_MARGIN
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    window = (slice(top, bottom + 2 * pad), slice(left, right + 2 * pad))
    padded_face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REFLECT)[window]
    padded_frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REFLECT)[window]
    padded_mask = cv2.copyMakeBorder(binary, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    # OpenCV centres the mask's bounding box on `centre` (integer halves), so this keeps the
    # face exactly where it is.
    centre = (pad + (right - left) // 2, pad + (bottom - top) // 2)
    cloned = cv2.seamlessClone(np.ascontiguousarray(padded_face),
                               np.ascontiguousarray(padded_frame),
                               np.ascontiguousarray(padded_mask[window]), centre,
                               cv2.NORMAL_CLONE)
    output = frame.copy()
    output[top:bottom, left:right] = cloned[pad:pad + bottom - top, pad:pad + right - left]
    return output


@BLENDS.register("laplacian")
def blend_laplacian(face: Image, frame: Image, mask: Mask, feather: float | None = None
                    ) -> Image:
    """Multi-band blending (Burt and Adelson 1983): face and frame split into Laplacian
    pyramids (LAPLACIAN_LEVELS, fewer for small pictures), each band mixed through the
    feathered mask blurred to that band's scale, and summed back. Fine detail switches over
    within a pixel or two of the mask's edge, broad shading over many: no seam and no halo
    of the frame's colour inside the face. Far from the mask the frame is unchanged."""
    import cv2

    alpha = feather_mask(mask, feather)
    if not alpha.any():
        return frame.copy()
    # The coarsest band at most a quarter of the face across: coarser ones would mix the
    # frame's overall colour into the middle of the face.
    across = float(np.sqrt((alpha > 0.5).sum()))
    levels = min(LAPLACIAN_LEVELS, int(np.log2(max(across / 4, 1.0))),
                 int(np.log2(max(min(frame.shape[:2]), 2))) - 2)
    if levels < 1:
        return blend_alpha(face, frame, mask, feather)
    # Bands are linear in the picture: each band of frame + weight * (face - frame) is the
    # frame's band plus the weighted band of the difference, and the frame's bands sum back
    # to the frame, so one pyramid (of the difference) does the work of two.
    pyramid = _laplacian_pyramid(cv2.subtract(face, frame, dtype=cv2.CV_32F), levels)
    weights = [alpha]
    for _ in range(levels):
        weights.append(cv2.pyrDown(weights[-1]))
    change = None
    for band, weight in zip(pyramid[::-1], weights[::-1], strict=True):
        band *= weight[..., None]
        change = band if change is None else \
            cv2.pyrUp(change, dstsize=band.shape[1::-1]) + band
    # The coarse bands reach far past the mask (a faint halo of the face's shading on the
    # frame around it): fade back to the frame just outside the feathered mask, so that,
    # as with alpha, the frame a few pixels away is exactly as it was.
    reach = cv2.GaussianBlur((alpha > 0).astype(np.float32), (5, 5), 0)
    change *= reach[..., None]
    return cv2.add(frame, change, dtype=cv2.CV_8U)  # rounded and clipped to bytes


def _laplacian_pyramid(picture: npt.NDArray[np.float32], levels: int
                       ) -> list[npt.NDArray[np.float32]]:
    """Band-pass layers, finest first, and the low-pass residual last."""
    import cv2

    pyramid, current = [], picture
    for _ in range(levels):
        smaller = cv2.pyrDown(current)
        pyramid.append(current - cv2.pyrUp(smaller, dstsize=current.shape[1::-1]))
        current = smaller
    pyramid.append(current)
    return pyramid


def feather_mask(mask: Mask, feather: float | None = None) -> npt.NDArray[np.float32]:
    """float32 HxW alpha in [0, 1]: the mask eroded by 2 sigma then blurred by sigma =
    `feather` pixels (None: FEATHER x sqrt(its area))."""
    import cv2

    binary = (mask > MASK_THRESHOLD).astype(np.uint8)
    sigma = FEATHER * float(np.sqrt(binary.sum())) if feather is None else float(feather)
    if sigma < 0.5:
        return binary.astype(np.float32)
    # Eroded by 2 sigma as "farther than that from the nearest outside pixel": the same as
    # cv2.erode with a disc but for a part of a pixel at the edge (blurred away next), at a
    # fifth of its time for a 720p face's ~27-px disc.
    inside = cv2.distanceTransform(binary, cv2.DIST_L2, cv2.DIST_MASK_5)
    eroded = (inside > round(2 * sigma)).astype(np.float32)
    return cv2.GaussianBlur(eroded, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
