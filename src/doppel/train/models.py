"""Face-swap networks: one shared encoder, and a decoder per identity (DF) or one decoder fed
by a shared and a target-only intermediate code (LIAE). Every decoder predicts RGB and a mask.

The recipe of deepfakes/faceswap and DeepFaceLab: each side learns to rebuild its own faces
from warped copies through the shared encoder, so the encoder's code describes pose,
expression and light in a way both decoders read; at swap time the target's face goes in and
the source's decoder draws it.

Shapes (not parameter counts) decide CPU speed; the presets are measured (`doppel bench
train`). Pixel shuffle upsampling (a convolution to 4x the channels, then
PixelShuffle(2)) is the usual choice in both peers and costs the same on a CPU as a transposed
convolution without its checkerboard artefacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import torch
from torch import nn

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.registry import Registry
from doppel.train.choices import Architecture, Preset, Side
from doppel.train.shapes import PRESETS, Shape


ARCHITECTURES: Registry[type[nn.Module]] = Registry("architecture")
Output = tuple[torch.Tensor, torch.Tensor]  # RGB N x 3 x R x R and mask N x 1 x R x R


@dataclass(frozen=True)
class ModelOptions:
    """Which network to train."""

    architecture: Architecture = field(default="df", metadata={
        "help": "df: shared encoder, a decoder per identity; liae: shared encoder and "
                "decoder with a shared and a target-only intermediate code"})
    preset: Preset = field(default="tiny", metadata={
        "help": "tiny: 64 px, CPU-first; base: 128 px; hq: 256 px, for a GPU"})

    def __post_init__(self) -> None:
        check_fields(self)


def build_model(options: ModelOptions) -> nn.Module:
    """A freshly initialised network for `options`."""
    if options.preset not in PRESETS:
        raise DoppelError(f"unknown preset {options.preset!r}: choose one of "
                          f"{', '.join(PRESETS)}")
    return ARCHITECTURES.get(options.architecture)(PRESETS[options.preset])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _Act(nn.LeakyReLU):
    def __init__(self) -> None:
        super().__init__(0.1, inplace=True)


def _down(channels_in: int, channels_out: int) -> nn.Sequential:
    # 3x3, not the peers' 5x5: on 2 CPU cores the 5x5 stages cost tiny a quarter of its
    # speed (121 against 156 img/s) for a view the next stride-2 stage widens anyway.
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, 2, 1), _Act())


def _up(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out * 4, 3, 1, 1), _Act(),
                         nn.PixelShuffle(2))


class Encoder(nn.Module):
    """RGB float32 N x 3 x R x R in [0, 1] -> N x C x R/2^k x R/2^k features, flattened."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        channels = (3, *shape.encoder)
        self.stages = nn.Sequential(*(_down(a, b) for a, b in zip(channels, channels[1:])))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.stages(images), 1)


class Intermediate(nn.Module):
    """Encoder features -> the code: a dense bottleneck, reshaped to a small map and upscaled
    once (N x code_channels x 2s x 2s, s the encoder's output side)."""

    def __init__(self, shape: Shape, features: int, channels_out: int | None = None) -> None:
        super().__init__()
        self.side = shape.resolution // 2 ** len(shape.encoder)
        self.channels = channels_out or shape.code_channels
        self.dense = nn.Sequential(
            nn.Linear(features, shape.bottleneck),
            nn.Linear(shape.bottleneck, self.side * self.side * self.channels))
        self.up = _up(self.channels, self.channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        code = self.dense(features).view(-1, self.channels, self.side, self.side)
        return self.up(code)


class Decoder(nn.Module):
    """A code -> (RGB N x 3 x R x R, mask N x 1 x R x R), both in [0, 1]."""

    def __init__(self, shape: Shape, channels_in: int) -> None:
        super().__init__()
        channels = (channels_in, *shape.decoder)
        self.stages = nn.Sequential(*(_up(a, b) for a, b in zip(channels, channels[1:])))
        # RGB and mask from one 3x3 convolution: at full resolution, two 5x5 ones cost a
        # fifth of a training step.
        self.out = nn.Conv2d(channels[-1], 4, 3, 1, 1)

    def forward(self, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.sigmoid(self.out(self.stages(code)))
        return out[:, :3], out[:, 3:]


def _encoder_features(shape: Shape) -> int:
    side = shape.resolution // 2 ** len(shape.encoder)
    return side * side * shape.encoder[-1]


@ARCHITECTURES.register("df")
class DFModel(nn.Module):
    """Shared encoder and intermediate code; one decoder per identity (faceswap's
    `original`, DeepFaceLab's DF)."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.shape = shape
        self.encoder = Encoder(shape)
        self.inter = Intermediate(shape, _encoder_features(shape))
        self.decoders = nn.ModuleDict({side: Decoder(shape, shape.code_channels)
                                       for side in ("source", "target")})

    def reconstruct(self, images: torch.Tensor, side: Side
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`side`'s faces rebuilt by `side`'s decoder (what training teaches)."""
        return self.decoders[side](self.inter(self.encoder(images)))

    def reconstruct_both(self, source: torch.Tensor, target: torch.Tensor
                         ) -> tuple[Output, Output]:
        """Each side's faces rebuilt by its own decoder, the shared part in one batch (twice
        the rows per matrix product: faster on a CPU than two half batches)."""
        codes = self.inter(self.encoder(torch.cat([source, target])))
        code_source, code_target = codes.split([len(source), len(target)])
        return self.decoders["source"](code_source), self.decoders["target"](code_target)

    def swap(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Target faces drawn by the source's decoder."""
        return self.reconstruct(images, "source")


@ARCHITECTURES.register("liae")
class LIAEModel(nn.Module):
    """Shared encoder and decoder; the code is two halves: a shared intermediate's (both
    identities) and, for the target's own faces, a target-only intermediate's in place of
    the first half (DeepFaceLab's LIAE). Swapping gives a target face the source's code
    layout: both halves from the shared intermediate."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.shape = shape
        half = shape.code_channels // 2
        features = _encoder_features(shape)
        self.encoder = Encoder(shape)
        self.inter_both = Intermediate(shape, features, half)
        self.inter_target = Intermediate(shape, features, half)
        self.decoder = Decoder(shape, 2 * half)

    def reconstruct(self, images: torch.Tensor, side: Side
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(images)
        shared = self.inter_both(features)
        first = self.inter_target(features) if side == "target" else shared
        return self.decoder(torch.cat([first, shared], 1))

    def reconstruct_both(self, source: torch.Tensor, target: torch.Tensor
                         ) -> tuple[Output, Output]:
        """As reconstruct for each side, with the shared encoder, intermediate and decoder
        each run once on both sides' rows."""
        features = self.encoder(torch.cat([source, target]))
        shared = self.inter_both(features)
        first = torch.cat([shared[:len(source)], self.inter_target(features[len(source):])])
        rgb, mask = self.decoder(torch.cat([first, shared], 1))
        return ((rgb[:len(source)], mask[:len(source)]),
                (rgb[len(source):], mask[len(source):]))

    def swap(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.reconstruct(images, "source")
