"""The detector's network (doppel.detect.model.MesoNet, any width) in numpy, for `doppel
detect` on the CPU without importing torch (~2.3 s of CPU here, a third of a 4-s clip's
check): the logit of a face and its gradient over the input pixels, the heatmap's source.
Inference uses batch norm's running statistics; a test holds this equal to torch, gradient
included."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from doppel.numpy_conv import conv_channels_first

Array = npt.NDArray[np.float32]
EPSILON = 1e-5  # torch's BatchNorm2d default, what MesoNet was trained with
LEAK = 0.1  # the dense layer's LeakyReLU slope
POOLS = (2, 2, 2, 4)  # MesoNet.POOLS (model.py imports torch; the test holds them equal)


class NumpyForensicNet:
    """tensors: MesoNet's state dict as numpy arrays (float16 or float32); KeyError when one
    is missing."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        def get(name: str) -> Array:
            return tensors[name].astype(np.float32)

        self._blocks: list[tuple[Array, Array, Array, Array, Array]] = []
        for index in range(len(POOLS)):
            weight = get(f"features.{index}.0.weight")
            norm = {key: get(f"features.{index}.2.{key}")
                    for key in ("weight", "bias", "running_mean", "running_var")}
            scale = norm["weight"] / np.sqrt(norm["running_var"] + EPSILON)
            # the gradient flows back through the kernel turned half a turn, its input and
            # output channels swapped
            backward = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            self._blocks.append((weight, get(f"features.{index}.0.bias"), scale[:, None, None],
                                 (norm["bias"] - norm["running_mean"] * scale)[:, None, None],
                                 backward))
        self._dense = [(get(f"classify.{index}.weight"), get(f"classify.{index}.bias"))
                       for index in (2, 5)]

    def forward(self, crops: npt.NDArray[np.uint8]) -> Array:
        """uint8 N x S x S x 3 crops -> logits N."""
        return self._run(crops)[0]

    def input_gradient(self, crop: npt.NDArray[np.uint8]) -> Array:
        """d logit / d pixel for one uint8 S x S x 3 crop (pixels in [0, 1]): S x S x 3."""
        _, saved, hidden = self._run(crop[None])
        (first, _), (second, _) = self._dense
        grad = ((second[0] * np.where(hidden[0] > 0, 1.0, LEAK)) @ first).astype(np.float32)
        grad = grad.reshape(1, *saved[-1][3].shape[1:])
        for (_, _, scale, _, backward), (pool, convolved, normed, _) in zip(
                reversed(self._blocks), reversed(saved)):
            grad = _unpool(grad, normed, pool) * scale * (convolved > 0)
            grad = conv_channels_first(grad, backward, None)
        return grad[0].transpose(1, 2, 0)

    def _run(self, crops: npt.NDArray[np.uint8]
             ) -> tuple[Array, list[tuple[int, Array, Array, Array]], Array]:
        x = crops.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        saved = []
        for (weight, bias, scale, shift, _), pool in zip(self._blocks, POOLS):
            convolved = conv_channels_first(x, weight, bias)
            normed = np.maximum(convolved, 0.0) * scale + shift
            x = _max_pool(normed, pool)
            saved.append((pool, convolved, normed, x))
        (first, first_bias), (second, second_bias) = self._dense
        hidden = x.reshape(len(x), -1) @ first.T + first_bias  # channels first, as torch
        out = np.where(hidden > 0, hidden, LEAK * hidden) @ second.T + second_bias
        return out[:, 0].astype(np.float32), saved, hidden


def _max_pool(x: Array, size: int) -> Array:
    """size x size max pooling, stride size (a power of 2): N x C x H x W -> N x C x H/size x
    W/size. Halving by elementwise maxima of strided views: ~6x faster here than a max over
    a reshaped array's small axes."""
    while size > 1:
        x = np.maximum(np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                       np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))
        size //= 2
    return x


def _unpool(grad: Array, x: Array, size: int) -> Array:
    """_max_pool's gradient: each window's to its first largest input, as torch routes it
    (flat backgrounds tie)."""
    count, channels, height, width = x.shape
    windows = x.reshape(count, channels, height // size, size, width // size, size)
    windows = windows.transpose(0, 1, 2, 4, 3, 5).reshape(*grad.shape, size * size)
    routed = np.zeros(windows.shape, np.float32)
    np.put_along_axis(routed, windows.argmax(axis=-1)[..., None], grad[..., None], axis=-1)
    return routed.reshape(*grad.shape, size, size).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
