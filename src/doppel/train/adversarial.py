"""The optional adversarial refinement: a patch discriminator that learns to tell real face
crops from the decoders' reconstructions, and a loss that pushes the decoders towards what it
calls real (sharper skin, eyes and teeth than SSIM + L1 alone settle for).

DeepFaceLab's "GAN power" and faceswap's old GAN models do the same after a model has learned
the faces; switched on from the start it fights a reconstruction that does not exist yet, so
`doppel train` applies it only when asked (`--gan-weight`), typically resuming a converged
model. Least-squares targets (Mao et al. 2017: real 1, fake 0) keep the gradients from
vanishing without the tuning that a log loss needs.

The discriminator only ever sees training faces and reconstructions, inside the face hull: it
is a training aid for realism, and has nothing to do with doppel's forensic detector, which
nothing here is trained against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    """RGB N x 3 x R x R in [0, 1] -> N x 1 x R/8 x R/8 scores, one per overlapping patch
    (each sees about a quarter of a 64-px face)."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for channels_in, channels_out in zip((3, *channels), channels):
            layers += [nn.Conv2d(channels_in, channels_out, 4, 2, 1),
                       nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(channels[-1], 1, 3, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images * 2 - 1)


class Adversary:
    """The discriminator, its optimizer and the two losses. The generator's loss goes into
    the trainer's backward pass; `learn` then takes the discriminator's own step."""

    def __init__(self, weight: float, learning_rate: float, device: Any) -> None:
        self.weight = weight
        self.network = PatchDiscriminator().to(device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=learning_rate,
                                          betas=(0.5, 0.999), fused=True)

    def generator_loss(self, fakes: torch.Tensor) -> torch.Tensor:
        """weight x how far the discriminator is from calling `fakes` real (gradients reach
        the generator only: the discriminator's weights are left out of this graph)."""
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        try:
            return self.weight * ((self.network(fakes) - 1) ** 2).mean()
        finally:
            for parameter in self.network.parameters():
                parameter.requires_grad_(True)

    def learn(self, reals: torch.Tensor, fakes: torch.Tensor) -> float:
        """One discriminator step: reals towards 1, fakes (detached) towards 0; its loss."""
        loss = (((self.network(reals) - 1) ** 2).mean()
                + (self.network(fakes.detach()) ** 2).mean())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def state(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])


def faces_only(rgb: torch.Tensor, hull: torch.Tensor) -> torch.Tensor:
    """rgb inside the face hull, mid-grey outside: the background is not what either side of
    the game should learn about (the reconstruction loss ignores it too)."""
    return rgb * hull + 0.5 * (1 - hull)
