"""Data that crosses stage boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture.

    index: position in the source, counting from 0 (before any `step`).
    pts: presentation time in seconds, exact; None for still images and image directories.
    rgb: RGB uint8, HxWx3, C-contiguous, already rotated for display.
    """

    index: int
    pts: Fraction | None
    rgb: npt.NDArray[np.uint8]

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])
