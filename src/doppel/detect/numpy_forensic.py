"""The shipped detector's network (doppel.detect.model.ForensicNet) in numpy, for `doppel
detect` on the CPU without importing torch (~2.3 s of CPU here, a third of a 4-s clip's
check). Batch norm is folded into each convolution (inference uses its running statistics);
a test holds the two implementations equal."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.numpy_conv import as_matrix, conv3x3

Array = npt.NDArray[np.float32]
EPSILON = 1e-5  # torch's BatchNorm2d default, what ForensicNet was trained with


class NumpyForensicNet:
    """tensors: ForensicNet's state dict as numpy arrays (float16 or float32)."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self._layers: list[tuple[Array, Array, int]] = []
        index = 0
        while f"features.{index}.0.weight" in tensors:
            conv = tensors[f"features.{index}.0.weight"].astype(np.float32)
            norm = {key: tensors[f"features.{index}.1.{key}"].astype(np.float32)
                    for key in ("weight", "bias", "running_mean", "running_var")}
            scale = norm["weight"] / np.sqrt(norm["running_var"] + EPSILON)
            bias = norm["bias"] - norm["running_mean"] * scale
            # ForensicNet's layers: stride 2 first, then (same width, stride 1), (wider,
            # stride 2) pairs, and a last stride-1 layer: even places stride 2.
            stride = 2 if index % 2 == 0 else 1
            self._layers.append((as_matrix(conv * scale[:, None, None, None]), bias, stride))
            index += 1
        if not self._layers or "classify.weight" not in tensors:
            raise DoppelError("the detector's weights are not the doppel network's: give the "
                              "file doppel detector train wrote")
        self._classify = tensors["classify.weight"].astype(np.float32)[0]
        self._bias = float(tensors["classify.bias"].astype(np.float32)[0])

    def forward_with_map(self, crops: npt.NDArray[np.uint8]) -> tuple[Array, Array]:
        """uint8 N x S x S x 3 crops -> (logits N, class activation maps N x h x w)."""
        x = crops.astype(np.float32) / 255.0
        for matrix, bias, stride in self._layers:
            x = np.maximum(conv3x3(x, matrix, bias, stride), 0.0)
        maps = x @ self._classify
        return (maps.mean(axis=(1, 2)) + self._bias).astype(np.float32), maps.astype(np.float32)
