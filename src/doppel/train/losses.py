"""Training losses: structural dissimilarity and L1 on the face, heavier on eyes and mouth,
and a loss for the predicted mask.

The face loss counts only pixels inside the face hull (what a swap pastes), like faceswap's
and DeepFaceLab's masked training: the background around a face differs from clip to clip
and would take capacity from the face. Eyes and mouth carry most of what people judge a face
by; faceswap weighs them 3x and 2x, we weigh both by `parts_weight`.
"""

from __future__ import annotations

import functools
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
    N x C x H x W tensors in [0, 1], same shape; zero-padded at the borders (both alike).
    Differentiable in both; its gradient is written out (`_ssim_function`)."""
    return _ssim_function().apply(a, b)


@functools.cache
def _ssim_function() -> type:
    """SSIM as a torch.autograd.Function with its gradient written out: autograd's own way
    through the twenty-odd elementwise steps and the blur of all five statistics took about
    a fifth of a tiny training step at 64 px on 2 cores; the written-out one blurs four
    maps back instead of five and does the elementwise work in a few passes."""
    import torch

    class SsimMap(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            channels = a.shape[1]
            rows, columns = _blur_matrix(a.shape[2], a), _blur_matrix(a.shape[3], a)
            # The five local statistics in one pass: the Gaussian blur as two small matrix
            # products (rows, then columns) on all 5C maps at once; 10 grouped convolutions
            # took three times as long.
            stacked = torch.cat([a, b, a * a, b * b, a * b], 1)
            mean_a, mean_b, square_a, square_b, product = (
                rows @ stacked @ columns.T).split(channels, 1)
            mean_a2, mean_b2, mean_ab = mean_a * mean_a, mean_b * mean_b, mean_a * mean_b
            # SSIM = (luminance numerator * structure numerator) / (their denominators)
            lum_top = 2 * mean_ab + _C1
            struct_top = 2 * (product - mean_ab) + _C2
            lum_bottom = mean_a2 + mean_b2 + _C1
            struct_bottom = square_a + square_b - mean_a2 - mean_b2 + _C2
            bottom = lum_bottom * struct_bottom
            ssim = lum_top * struct_top / bottom
            ctx.save_for_backward(a, b, mean_a, mean_b, lum_top, struct_top, lum_bottom,
                                  struct_bottom, bottom, ssim)
            ctx.blur = rows, columns
            return ssim

        @staticmethod
        def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
            (a, b, mean_a, mean_b, lum_top, struct_top, lum_bottom, struct_bottom, bottom,
             ssim) = ctx.saved_tensors
            channels = a.shape[1]
            rows, columns = ctx.blur
            # d SSIM / d each statistic (symmetric in a and b):
            #   mean_a: 2 mean_b (struct_top - lum_top) / bottom
            #           - 2 mean_a SSIM (struct_bottom - lum_bottom) / bottom
            #   square_a = square_b: -SSIM / struct_bottom;  product: 2 lum_top / bottom
            over = grad / bottom
            top_gap = 2 * (struct_top - lum_top) * over
            bottom_gap = 2 * ssim * (struct_bottom - lum_bottom) * over
            maps = torch.cat([mean_b * top_gap - mean_a * bottom_gap,
                              mean_a * top_gap - mean_b * bottom_gap,
                              -grad * ssim / struct_bottom,
                              2 * lum_top * over], 1)
            # The blur's adjoint: rows @ X @ columns.T gives back rows.T @ G @ columns.
            by_mean_a, by_mean_b, by_square, by_product = (
                rows.T @ maps @ columns).split(channels, 1)
            grad_a = grad_b = None
            if ctx.needs_input_grad[0]:
                grad_a = by_mean_a + 2 * a * by_square + b * by_product
            if ctx.needs_input_grad[1]:
                grad_b = by_mean_b + 2 * b * by_square + a * by_product
            return grad_a, grad_b

    return SsimMap


def _blur_matrix(size: int, like: torch.Tensor) -> torch.Tensor:
    """size x size: row i holds the Gaussian window centred on i (cut at the edges, as zero
    padding cuts it)."""
    import torch

    index = torch.arange(size, device=like.device, dtype=like.dtype)
    offset = index[None, :] - index[:, None]
    weights = torch.exp(-offset ** 2 / (2 * SSIM_SIGMA ** 2))
    window = torch.exp(-(torch.arange(SSIM_WINDOW, device=like.device, dtype=like.dtype)
                         - SSIM_WINDOW // 2) ** 2 / (2 * SSIM_SIGMA ** 2)).sum()
    return torch.where(offset.abs() <= SSIM_WINDOW // 2, weights / window, 0.0)
