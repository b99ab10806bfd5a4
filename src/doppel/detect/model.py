"""The forensic networks: an aligned face crop in, the logit of "swapped" out.

`doppel` (the shipped detector): plain 3x3 convolutions with batch norm, four stride-2 stages
to an 8x8 map at 128 px, global average pooling and one linear layer, so the class
activation map (the linear layer's weights over the last map, Zhou et al. 2016) shows where it
looks at no extra cost. ~0.47M parameters. `meso4`: the MesoNet-4 shape (Afchar et al. 2018:
four convolution + pooling blocks of 8-16 channels, a 16-unit dense layer), the reference the
Detect benchmark compares against, trained the same way.
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
