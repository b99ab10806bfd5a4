"""The networks' sizes, without torch: training builds from them (doppel.train.models) and the
CPU swap reads a model file by them (doppel.swap.numpy_net)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """A network's size: crop resolution, encoder channels per stride-2 stage, the dense
    bottleneck's width, the code's side (the bottleneck is reshaped to code_side^2 x
    code_channels), and the decoder's channels per upscale."""

    resolution: int
    encoder: tuple[int, ...]
    bottleneck: int
    code_channels: int
    decoder: tuple[int, ...]

    def __post_init__(self) -> None:
        stages = len(self.encoder)
        if self.resolution % (2 ** stages):
            raise ValueError(f"resolution {self.resolution} is not divisible by 2^{stages}")
        if self.resolution // 2 ** stages * 2 * 2 ** len(self.decoder) != self.resolution:
            raise ValueError("encoder and decoder stages do not meet at the resolution")


# code side = resolution / 2^len(encoder); the code is upscaled once after the bottleneck,
# then once per decoder stage back to the resolution.
PRESETS: dict[str, Shape] = {
    # tiny's decoder and code are narrower than base's in proportion: the decoders are two
    # thirds of its work, and (48, 24, 12) with a 96-channel code trained ~1.3x the images a
    # second of (64, 32, 16) with 128 (alternated in one process, batch 32 a side).
    "tiny": Shape(64, (32, 64, 128, 256), 176, 96, (48, 24, 12)),
    "base": Shape(128, (48, 96, 192, 384), 256, 192, (128, 64, 32)),
    "hq": Shape(256, (64, 128, 256, 512, 512), 512, 256, (256, 128, 64, 32)),
}
