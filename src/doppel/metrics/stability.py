"""How steady an output clip is, against how steady reality was (flicker), and how often a
face was there to swap (coverage)."""

from __future__ import annotations

from collections.abc import Iterable, Sized

import numpy as np
import numpy.typing as npt

from doppel.metrics.image import MASK_THRESHOLD


class FlickerMeter:
    """Streams frames and keeps only the previous one: the mean absolute change of the face
    region from frame to frame, the region being the pixels where either frame's mask > 127."""

    def __init__(self) -> None:
        self._previous: tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]] | None = None
        self._total = 0.0
        self._pairs = 0

    def add(self, rgb: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8]) -> None:
        """One frame, RGB uint8 HxWx3, and its face mask, uint8 HxW (255 = face)."""
        region = np.asarray(mask) > MASK_THRESHOLD
        if rgb.ndim != 3 or rgb.shape[:2] != region.shape:
            raise ValueError(f"frame {rgb.shape} does not match its mask {region.shape}")
        if self._previous is not None:
            previous, previous_region = self._previous
            if previous.shape != rgb.shape:
                raise ValueError(f"frame size changed from {previous.shape} to {rgb.shape}")
            union = region | previous_region
            if union.any():  # pairs without a face say nothing about its flicker
                change = np.abs(rgb[union].astype(np.int16) - previous[union])
                self._total += float(np.mean(change))
                self._pairs += 1
        self._previous = (rgb.copy(), region)

    @property
    def pairs(self) -> int:
        """How many consecutive pairs with a face have been measured."""
        return self._pairs

    def value(self) -> float:
        """The mean over measured pairs of the mean absolute change (0-255 levels, all three
        channels); nan before any pair with a face."""
        return self._total / self._pairs if self._pairs else float("nan")


def flicker(frames: Iterable[npt.NDArray[np.uint8]],
            masks: Iterable[npt.NDArray[np.uint8]]) -> float:
    """Mean absolute frame-to-frame change of the face region, in 0-255 levels: for each pair
    of consecutive frames (RGB uint8 HxWx3) the mean |change| over the pixels where either
    frame's mask (uint8 HxW) > 127, averaged over the pairs. Streams: holds one frame.
    Raises ValueError when no pair of consecutive frames has a face."""
    meter = FlickerMeter()
    for rgb, mask in zip(frames, masks, strict=True):
        meter.add(rgb, mask)
    if not meter.pairs:
        raise ValueError("flicker needs two consecutive frames with a face")
    return meter.value()


def flicker_ratio(output_frames: Iterable[npt.NDArray[np.uint8]],
                  truth_frames: Iterable[npt.NDArray[np.uint8]],
                  masks: Iterable[npt.NDArray[np.uint8]]) -> float:
    """flicker(output) / flicker(truth) over the same (true) face masks: 1.0 is as steady as
    reality, above 1 flickers more, 0 is frozen. Streams the three together, in one pass.
    When the truth does not change at all: 1.0 if the output does not either, else inf."""
    output_meter, truth_meter = FlickerMeter(), FlickerMeter()
    for output, truth, mask in zip(output_frames, truth_frames, masks, strict=True):
        output_meter.add(output, mask)
        truth_meter.add(truth, mask)
    if not truth_meter.pairs:
        raise ValueError("flicker needs two consecutive frames with a face")
    return ratio_of(output_meter.value(), truth_meter.value())


def ratio_of(output: float, truth: float) -> float:
    """output / truth, with a still truth giving 1.0 (still output) or inf."""
    if truth == 0.0:
        return 1.0 if output == 0.0 else float("inf")
    return output / truth


def coverage(found: Iterable[bool | Sized | None]) -> float:
    """Share of frames where a face was found (and replaced): per frame a bool, or the list of
    faces found (empty = none), or None (none). Raises ValueError on no frames."""
    hits = [bool(entry) for entry in found]
    if not hits:
        raise ValueError("coverage needs at least one frame")
    return sum(hits) / len(hits)
