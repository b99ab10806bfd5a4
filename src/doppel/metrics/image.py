"""How close an output picture is to its truth inside the face mask: PSNR and SSIM."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# SSIM's usual constants (Wang et al. 2004) for 8-bit pictures, and its Gaussian window:
# sigma 1.5 truncated to 11x11, as in the paper and skimage's `gaussian_weights=True`.
DATA_RANGE = 255.0
SSIM_C1 = (0.01 * DATA_RANGE) ** 2
SSIM_C2 = (0.03 * DATA_RANGE) ** 2
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
# ITU-R BT.601 luma weights (the Y of JPEG and of skimage's rgb2gray is close to these).
LUMA = (0.299, 0.587, 0.114)
MASK_THRESHOLD = 127  # a mask pixel counts when it is above this (uint8 masks, 255 = face)


def masked_psnr(output: npt.NDArray[np.uint8], truth: npt.NDArray[np.uint8],
                mask: npt.NDArray[np.uint8]) -> float:
    """Peak signal-to-noise ratio in dB of `output` against `truth` (RGB uint8 HxWx3) over the
    pixels where `mask` (uint8 HxW) > 127, all three channels; inf when they are equal there."""
    region = region_of(mask, output, truth)
    difference = output[region].astype(np.float64) - truth[region]
    error = float(np.mean(difference * difference))
    if error == 0.0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE * DATA_RANGE / error))


def masked_ssim(output: npt.NDArray[np.uint8], truth: npt.NDArray[np.uint8],
                mask: npt.NDArray[np.uint8]) -> float:
    """Structural similarity of `output` and `truth` (RGB uint8 HxWx3) on their luma (BT.601),
    averaged over the pixels where `mask` (uint8 HxW) > 127; exactly 1.0 when they are equal
    there.

    The window is Gaussian (sigma 1.5, 11x11) and its means, variances and covariance are
    weighted by the mask (normalised convolution), so pixels outside the mask never count, not
    even at the mask's edge. On a full mask this is the standard Gaussian-window SSIM
    (skimage's `gaussian_weights=True, use_sample_covariance=False`) away from the borders.
    """
    import cv2

    region = region_of(mask, output, truth)
    weight = region.astype(np.float64)
    x, y = _luma(output) * weight, _luma(truth) * weight

    def local(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        blurred = cv2.GaussianBlur(values, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA,
                                   borderType=cv2.BORDER_REFLECT)
        return blurred[region]

    # every pixel in the region has at least its own (centre) weight, so no division by zero
    share = local(weight)
    mean_x, mean_y = local(x) / share, local(y) / share
    var_x = local(x * x) / share - mean_x * mean_x
    var_y = local(y * y) / share - mean_y * mean_y
    covariance = local(x * y) / share - mean_x * mean_y
    similarity = ((2 * mean_x * mean_y + SSIM_C1) * (2 * covariance + SSIM_C2)
                  / ((mean_x * mean_x + mean_y * mean_y + SSIM_C1) * (var_x + var_y + SSIM_C2)))
    return float(np.mean(similarity))


def region_of(mask: npt.NDArray[np.uint8], *pictures: npt.NDArray[np.uint8]
              ) -> npt.NDArray[np.bool_]:
    """The pixels a metric looks at, bool HxW: mask > 127. Raises ValueError when the pictures'
    sizes disagree with each other or the mask, or when the mask selects nothing."""
    mask = np.asarray(mask)
    for picture in pictures:
        if picture.ndim != 3 or picture.shape[2] != 3 or picture.shape[:2] != mask.shape:
            raise ValueError(f"pictures must be HxWx3 matching the mask {mask.shape}, "
                             f"got {picture.shape}")
    region = mask > MASK_THRESHOLD
    if not region.any():
        raise ValueError("the mask selects no pixels (none above 127)")
    return region


def _luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    return rgb.astype(np.float64) @ np.asarray(LUMA)
