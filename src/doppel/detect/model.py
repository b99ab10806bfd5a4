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


def _conv(channels_in: int, channels_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))


@DETECTORS.register("doppel")
class ForensicNet(nn.Module):
    """RGB float32 N x 3 x 128 x 128 in [0, 1] -> logits N (> 0: swapped)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(3, widths[0], 2)]
        for a, b in zip(widths, widths[1:]):
            layers += [_conv(a, a), _conv(a, b, 2)]
        layers.append(_conv(widths[-1], widths[-1]))
        self.features = nn.Sequential(*layers)
        self.classify = nn.Linear(widths[-1], 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images).mean(dim=(2, 3)))[:, 0]

    def forward_with_map(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits N, class activation maps N x h x w): each map cell's share of the logit,
        so the maps' means are the logits less the bias."""
        features = self.features(images)
        maps = torch.einsum("nchw,c->nhw", features, self.classify.weight[0])
        return maps.mean(dim=(1, 2)) + self.classify.bias[0], maps


@DETECTORS.register("meso4")
class Meso4(nn.Module):
    """MesoNet-4's shape at 128 px: RGB float32 N x 3 x 128 x 128 in [0, 1] -> logits N."""

    def __init__(self) -> None:
        super().__init__()

        def block(a: int, b: int, kernel: int, pool: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, kernel, padding=kernel // 2),
                                 nn.ReLU(inplace=True), nn.BatchNorm2d(b), nn.MaxPool2d(pool))

        self.features = nn.Sequential(block(3, 8, 3, 2), block(8, 8, 5, 2),
                                      block(8, 16, 5, 2), block(16, 16, 5, 4))
        self.classify = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 4 * 4, 16),
                                      nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(16, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))[:, 0]


def build_detector(name: str) -> nn.Module:
    return DETECTORS.get(name)()
