"""Convolutions in numpy (im2col: one copy of shifted views and one BLAS product), for running
small trained networks on the CPU without importing torch (~2.3 s of CPU here)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]


def as_matrix(weight: Array) -> Array:
    """torch's C_out x C_in x k x k convolution weight -> (k * k * C_in) x C_out, in the order
    conv gathers its patches (row, column, channel); a dense out x in weight -> in x out."""
    if weight.ndim == 4:
        return np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0]))
    return np.ascontiguousarray(weight.T)


def conv(x: Array, matrix: Array, bias: Array | None, stride: int = 1) -> Array:
    """k x k convolution (k from the matrix: odd), zero padding k // 2:
    N x H x W x C -> N x H/stride x W/stride x C_out."""
    count, height, width, channels = x.shape
    kernel = int(round(np.sqrt(matrix.shape[0] // channels)))
    pad = kernel // 2
    padded = np.zeros((count, height + 2 * pad, width + 2 * pad, channels), np.float32)
    padded[:, pad:pad + height, pad:pad + width] = x
    rows, cols = height // stride, width // stride
    patches = np.concatenate(
        [padded[:, dy:dy + height:stride, dx:dx + width:stride]
         for dy in range(kernel) for dx in range(kernel)], axis=-1)
    out = patches.reshape(count * rows * cols, kernel * kernel * channels) @ matrix
    if bias is not None:
        out += bias
    return out.reshape(count, rows, cols, -1)


def conv_channels_first(x: Array, weight: Array, bias: Array | None) -> Array:
    """k x k convolution, stride 1, zero padding k // 2, channels first: N x C x H x W ->
    N x C_out x H x W; weight: torch's C_out x C x k x k. With few channels this layout copies
    whole rows into the patch matrix instead of a few floats at a time (2-4x faster for
    the detector's 3-32 channels here)."""
    count, channels, height, width = x.shape
    kernel = weight.shape[-1]
    pad = kernel // 2
    padded = np.zeros((count, channels, height + 2 * pad, width + 2 * pad), np.float32)
    padded[:, :, pad:pad + height, pad:pad + width] = x
    patches = np.empty((count, channels, kernel, kernel, height, width), np.float32)
    for dy in range(kernel):
        for dx in range(kernel):
            patches[:, :, dy, dx] = padded[:, :, dy:dy + height, dx:dx + width]
    out = np.matmul(weight.reshape(len(weight), -1),
                    patches.reshape(count, channels * kernel * kernel, height * width))
    if bias is not None:
        out += bias[:, None]
    return out.reshape(count, -1, height, width)
