"""The forensic networks: an aligned face crop in, the logit of "swapped" out.

Both have MesoNet-4's shape (Afchar et al. 2018): four convolution + batch norm + pooling
blocks, a small dense layer. `meso4` is the published size (16k parameters), the Detect
benchmark's reference; `doppel`, the shipped detector, is twice as wide (62k). Small on
purpose: a 0.29M-parameter network trained on the same faces learned who the training actors
were (its own training faces it judged almost perfectly, unseen real faces it called swapped
one time in three); these generalise to actors they never saw (BENCHMARKS.md, "Detect").
"""

from __future__ import annotations

import torch
from torch import nn

from doppel.registry import Registry

DETECTORS: Registry[type[nn.Module]] = Registry("detector")


class MesoNet(nn.Module):
    """MesoNet-4's shape at 128 px (Afchar et al. 2018): four convolution + batch norm + max
    pooling blocks, then a small dense layer over the 4 x 4 map. RGB float32
    N x 3 x 128 x 128 in [0, 1] -> logits N (> 0: swapped)."""

    KERNELS, POOLS = (3, 5, 5, 5), (2, 2, 2, 4)

    def __init__(self, widths: tuple[int, int, int, int] = (8, 8, 16, 16),
                 hidden: int = 16) -> None:
        super().__init__()
        blocks, channels = [], 3
        for width, kernel, pool in zip(widths, self.KERNELS, self.POOLS):
            blocks.append(nn.Sequential(nn.Conv2d(channels, width, kernel, padding=kernel // 2),
                                        nn.ReLU(inplace=True), nn.BatchNorm2d(width),
                                        nn.MaxPool2d(pool)))
            channels = width
        self.features = nn.Sequential(*blocks)
        self.classify = nn.Sequential(nn.Flatten(), nn.Dropout(0.5),
                                      nn.Linear(channels * 4 * 4, hidden), nn.LeakyReLU(0.1),
                                      nn.Dropout(0.5), nn.Linear(hidden, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))[:, 0]


@DETECTORS.register("doppel")
class ForensicNet(MesoNet):
    """The shipped detector: MesoNet-4's shape at twice its width."""

    def __init__(self) -> None:
        super().__init__((16, 16, 32, 32), 32)


@DETECTORS.register("meso4")
class Meso4(MesoNet):
    """MesoNet-4 as published: the Detect benchmark's reference."""


def build_detector(name: str) -> nn.Module:
    return DETECTORS.get(name)()
