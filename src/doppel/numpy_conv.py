"""3x3 convolutions in numpy (im2col: one copy of shifted views and one BLAS product), for
running small trained networks on the CPU without importing torch (~2.3 s of CPU here)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]


def as_matrix(weight: Array) -> Array:
    """torch's C_out x C_in x 3 x 3 convolution weight -> (3 * 3 * C_in) x C_out, in the order
    conv3x3 gathers its patches (row, column, channel); a dense out x in weight -> in x out."""
    if weight.ndim == 4:
        return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]))
    return np.ascontiguousarray(weight.T)


def conv3x3(x: Array, matrix: Array, bias: Array | None, stride: int) -> Array:
    """3x3 convolution, zero padding 1: N x H x W x C -> N x H/stride x W/stride x C_out."""
    count, height, width, channels = x.shape
    padded = np.zeros((count, height + 2, width + 2, channels), np.float32)
    padded[:, 1:-1, 1:-1] = x
    rows, cols = height // stride, width // stride
    patches = np.concatenate(
        [padded[:, dy:dy + height:stride, dx:dx + width:stride]
         for dy in range(3) for dx in range(3)], axis=-1)
    out = patches.reshape(count * rows * cols, 9 * channels) @ matrix
    if bias is not None:
        out += bias
    return out.reshape(count, rows, cols, -1)
