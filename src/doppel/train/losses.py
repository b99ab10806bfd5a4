"""Training losses: structural dissimilarity and L1 on the face, heavier on eyes and mouth,
and a loss for the predicted mask.

The face loss counts only pixels inside the face hull (what a swap pastes), like faceswap's
and DeepFaceLab's masked training: the background around a face differs from clip to clip
and would take capacity from the face. Eyes and mouth carry most of what people judge a face
by; faceswap weighs them 3x and 2x, we weigh both by `parts_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from doppel.config import check_fields

if TYPE_CHECKING:
    import torch

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
_C1, _C2 = 0.01 ** 2, 0.03 ** 2


@dataclass(frozen=True)
class LossOptions:
    """How training scores a reconstruction."""

    ssim_weight: float = field(default=1.0, metadata={
        "help": "weight of structural dissimilarity (1 - SSIM) / 2 on the face", "min": 0.0})
    l1_weight: float = field(default=1.0, metadata={
        "help": "weight of the mean absolute error on the face", "min": 0.0})
    parts_weight: float = field(default=3.0, metadata={
        "help": "how much more eyes and mouth count than the rest of the face", "min": 1.0})
    mask_weight: float = field(default=1.0, metadata={
        "help": "weight of the predicted mask's mean squared error", "min": 0.0})

    def __post_init__(self) -> None:
        check_fields(self)


def face_loss(predicted: torch.Tensor, predicted_mask: torch.Tensor, target: torch.Tensor,
              masks: torch.Tensor, options: LossOptions) -> torch.Tensor:
    """The loss of one side's batch. predicted, target: float N x 3 x R x R in [0, 1];
    predicted_mask: N x 1 x R x R; masks: N x 2 x R x R in [0, 1] (face hull, eyes + mouth)."""
    import torch.nn.functional as F

    hull, parts = masks[:, :1], masks[:, 1:]
    weight = hull * (1.0 + (options.parts_weight - 1.0) * parts)
    total = weight.sum().clamp_min(1.0) * 3
    l1 = ((predicted - target).abs() * weight).sum() / total
    dssim = ((1.0 - ssim_map(predicted, target)) / 2 * weight).sum() / total
    mask = F.mse_loss(predicted_mask, hull)
    return options.l1_weight * l1 + options.ssim_weight * dssim + options.mask_weight * mask


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004: an 11-pixel Gaussian window, sigma 1.5) of two
    N x C x H x W tensors in [0, 1], same shape; zero-padded at the borders (both alike)."""
    import torch.nn.functional as F

    channels = a.shape[1]
    window = _gaussian(a.device, a.dtype).expand(channels, 1, -1, -1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        # Two 1-D passes, not one 11x11: a tenth of the work.
        x = F.conv2d(x, window, padding=(0, SSIM_WINDOW // 2), groups=channels)
        return F.conv2d(x, window.transpose(2, 3), padding=(SSIM_WINDOW // 2, 0),
                        groups=channels)

    mean_a, mean_b = blur(a), blur(b)
    var_a = blur(a * a) - mean_a ** 2
    var_b = blur(b * b) - mean_b ** 2
    covariance = blur(a * b) - mean_a * mean_b
    return ((2 * mean_a * mean_b + _C1) * (2 * covariance + _C2)
            / ((mean_a ** 2 + mean_b ** 2 + _C1) * (var_a + var_b + _C2)))


def _gaussian(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    import torch

    offsets = torch.arange(SSIM_WINDOW, device=device, dtype=dtype) - SSIM_WINDOW // 2
    weights = torch.exp(-offsets ** 2 / (2 * SSIM_SIGMA ** 2))
    return (weights / weights.sum()).view(1, 1, 1, SSIM_WINDOW)
