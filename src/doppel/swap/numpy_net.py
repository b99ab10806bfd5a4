"""The swap half of doppel's networks (doppel.train.models) in numpy, for swapping on the CPU.

Why a second implementation: importing torch costs ~2.3 s of CPU on this 2-core machine, a
fifth of the time a 10-s 720p clip may take at 25 frames/s, and numpy is loaded anyway. For one
face a frame, each convolution as one copy of shifted views (im2col) and one BLAS product runs
as fast as torch on one thread (tiny: ~6 ms a face both ways, measured). The layers mirror
models.py exactly (3x3 convolutions with padding 1, stride 2 in the encoder, LeakyReLU 0.1,
pixel shuffle, two dense layers, sigmoid), and a test holds the two equal for each
architecture. Training, GPUs and Apple's MPS use the torch network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.numpy_conv import as_matrix, conv
from doppel.train.shapes import PRESETS, Shape

Array = npt.NDArray[np.float32]
SLOPE = 0.1  # LeakyReLU's, as models._Act


class NumpyNetwork:
    """A trained model's swap path: target faces in, the source's decoder's faces out.

    arrays: the model's tensors by name (doppel.train.modelfile.read_arrays); architecture and
    preset from its meta. DoppelError when the tensors are not that network's."""

    def __init__(self, arrays: dict[str, Array], architecture: str, preset: str) -> None:
        if preset not in PRESETS:
            raise DoppelError(f"the model's preset {preset!r} is not one this doppel knows "
                              f"({', '.join(PRESETS)}): upgrade doppel or train again")
        if architecture not in _EXPECTED:
            raise DoppelError(f"the model's architecture {architecture!r} is not one this "
                              f"doppel knows ({', '.join(_EXPECTED)}): upgrade doppel")
        self.shape = PRESETS[preset]
        self.architecture = architecture
        _check(arrays, expected_shapes(architecture, self.shape), architecture, preset)
        # Convolution weights as (3*3*C_in) x C_out matrices in the order the patches are
        # gathered (row, column, channel), transposed once here rather than every frame.
        self._weights = {name[:-len(".weight")]: as_matrix(array)
                         for name, array in arrays.items() if name.endswith(".weight")}
        self._biases = {name[:-len(".bias")]: array
                        for name, array in arrays.items() if name.endswith(".bias")}

    def swap(self, images: Array) -> tuple[Array, Array]:
        """Target faces, float32 N x R x R x 3 in [0, 1] (RGB), drawn by the source's decoder:
        RGB float32 N x R x R x 3 and mask float32 N x R x R, both in [0, 1]."""
        features = self._encode(images)
        if self.architecture == "df":
            code = self._intermediate("inter", features, self.shape.code_channels)
            out = self._decode("decoders.source", code)
        else:
            half = self.shape.code_channels // 2
            shared = self._intermediate("inter_both", features, half)
            out = self._decode("decoder", np.concatenate([shared, shared], axis=-1))
        out = 1.0 / (1.0 + np.exp(-out))
        return out[..., :3], out[..., 3]

    def _encode(self, images: Array) -> Array:
        x = np.ascontiguousarray(images, np.float32)
        for index in range(len(self.shape.encoder)):
            x = _leaky(self._conv(f"encoder.stages.{index}.0", x, 2))
        # torch flattens N x C x H x W: channels first
        return x.transpose(0, 3, 1, 2).reshape(len(x), -1)

    def _intermediate(self, name: str, features: Array, channels: int) -> Array:
        x = features
        for index in range(2):
            layer = f"{name}.dense.{index}"
            x = x @ self._weights[layer] + self._biases[layer]
        side = self.shape.resolution // 2 ** len(self.shape.encoder)
        x = x.reshape(len(x), channels, side, side).transpose(0, 2, 3, 1)
        return _shuffle(_leaky(self._conv(f"{name}.up.0", x, 1)))

    def _decode(self, name: str, code: Array) -> Array:
        x = code
        for index in range(len(self.shape.decoder)):
            x = _shuffle(_leaky(self._conv(f"{name}.stages.{index}.0", x, 1)))
        return self._conv(f"{name}.out", x, 1)

    def _conv(self, layer: str, x: Array, stride: int) -> Array:
        return conv(x, self._weights[layer], self._biases[layer], stride)


def load_numpy_network(folder: Path, meta: dict[str, Any]) -> NumpyNetwork:
    """The swap path of the model in `folder` (meta: its doppel.train.modelfile.read_meta)."""
    from doppel.train.modelfile import read_arrays

    return NumpyNetwork(read_arrays(folder), str(meta.get("architecture")),
                        str(meta.get("preset")))


def expected_shapes(architecture: str, shape: Shape) -> dict[str, tuple[int, ...]]:
    """Every tensor of `architecture` at `shape`, by the name torch's state_dict gives it."""
    return _EXPECTED[architecture](shape)


def _conv_shapes(name: str, channels_in: int, channels_out: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (channels_out, channels_in, 3, 3), f"{name}.bias": (channels_out,)}


def _dense_shapes(name: str, features: int, out: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.weight": (out, features), f"{name}.bias": (out,)}


def _encoder_shapes(shape: Shape) -> dict[str, tuple[int, ...]]:
    channels = (3, *shape.encoder)
    shapes: dict[str, tuple[int, ...]] = {}
    for index, (a, b) in enumerate(zip(channels, channels[1:])):
        shapes.update(_conv_shapes(f"encoder.stages.{index}.0", a, b))
    return shapes


def _intermediate_shapes(name: str, shape: Shape, channels: int) -> dict[str, tuple[int, ...]]:
    side = shape.resolution // 2 ** len(shape.encoder)
    return {**_dense_shapes(f"{name}.dense.0", side * side * shape.encoder[-1],
                            shape.bottleneck),
            **_dense_shapes(f"{name}.dense.1", shape.bottleneck, side * side * channels),
            **_conv_shapes(f"{name}.up.0", channels, channels * 4)}


def _decoder_shapes(name: str, shape: Shape, channels_in: int) -> dict[str, tuple[int, ...]]:
    channels = (channels_in, *shape.decoder)
    shapes: dict[str, tuple[int, ...]] = {}
    for index, (a, b) in enumerate(zip(channels, channels[1:])):
        shapes.update(_conv_shapes(f"{name}.stages.{index}.0", a, b * 4))
    return {**shapes, **_conv_shapes(f"{name}.out", channels[-1], 4)}


def _df_shapes(shape: Shape) -> dict[str, tuple[int, ...]]:
    return {**_encoder_shapes(shape),
            **_intermediate_shapes("inter", shape, shape.code_channels),
            **_decoder_shapes("decoders.source", shape, shape.code_channels),
            **_decoder_shapes("decoders.target", shape, shape.code_channels)}


def _liae_shapes(shape: Shape) -> dict[str, tuple[int, ...]]:
    half = shape.code_channels // 2
    return {**_encoder_shapes(shape),
            **_intermediate_shapes("inter_both", shape, half),
            **_intermediate_shapes("inter_target", shape, half),
            **_decoder_shapes("decoder", shape, 2 * half)}


_EXPECTED = {"df": _df_shapes, "liae": _liae_shapes}


def _check(arrays: dict[str, Array], expected: dict[str, tuple[int, ...]], architecture: str,
           preset: str) -> None:
    from doppel.train.modelfile import describe_mismatch

    mismatch = describe_mismatch(arrays, {name: _Shaped(shape)
                                          for name, shape in expected.items()})
    if mismatch:
        raise DoppelError(f"the model's weights are not those of a {architecture} {preset} "
                          f"network ({mismatch}): the file is damaged or was not written by "
                          "doppel train; restore it or train again")


class _Shaped:
    """Stands in for a tensor where only its shape is compared."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def _leaky(x: Array) -> Array:
    return np.maximum(x, SLOPE * x, out=x)


def _shuffle(x: Array) -> Array:
    """torch's PixelShuffle(2) in N x H x W x C: channel c*4 + 2i + j of pixel (h, w) goes to
    channel c of pixel (2h + i, 2w + j)."""
    count, height, width, channels = x.shape
    return (x.reshape(count, height, width, channels // 4, 2, 2)
            .transpose(0, 1, 4, 2, 5, 3).reshape(count, 2 * height, 2 * width, channels // 4))
