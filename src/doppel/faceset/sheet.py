"""A faceset's crops as contact-sheet tiles (laid out by `doppel.media.tile_grid`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

OUTLINE_RGB = (0, 255, 0)  # green: stands out on skin of every tone


def face_tile(crop: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8] | None, size: int
              ) -> npt.NDArray[np.uint8]:
    """A crop (RGB uint8 SxSx3) scaled to size x size, with the outline of its mask (uint8
    SxS, face >= 128) drawn on it when a mask is given."""
    import cv2

    shrink = size < crop.shape[0]
    tile = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrink
                      else cv2.INTER_LINEAR)
    if mask is not None:
        scaled = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        contours, _ = cv2.findContours((scaled >= 128).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, OUTLINE_RGB, 1, cv2.LINE_8)  # crisp at 32 px
    return tile
