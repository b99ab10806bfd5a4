"""Colour transfer: recolour a face so its colours inside a mask match another picture's
there — the warped source face made to look lit like the target's face before blending."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from doppel.registry import Registry

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.uint8]
ColourTransfer = Callable[[Image, Image, Mask], Image]

COLOUR_TRANSFERS: Registry[ColourTransfer] = Registry("colour transfer")
MASK_THRESHOLD = 127  # a mask pixel counts when it is above this (uint8 masks, 255 = use)
_MIN_STD = 1e-3  # keeps a flat source region from blowing the Reinhard scale up


def match_colour(name: str | ColourTransfer, source: Image, target: Image, mask: Mask) -> Image:
    """`source` (RGB uint8 HxWx3) recoloured by the transfer `name` so that inside `mask`
    (uint8 HxW, 255 = use) its colours match `target`'s (same size) there; pixels outside the
    mask are `source`'s unchanged."""
    _check_inputs(source, target, mask)
    return COLOUR_TRANSFERS.get(name)(source, target, mask)


@COLOUR_TRANSFERS.register("none")
def transfer_none(source: Image, target: Image, mask: Mask) -> Image:
    """`source` as it is."""
    return source.copy()


@COLOUR_TRANSFERS.register("reinhard")
def transfer_reinhard(source: Image, target: Image, mask: Mask) -> Image:
    """Reinhard et al. 2001 in CIELAB: inside the mask, each of L, a, b of `source` is shifted
    and scaled so its mean and standard deviation become `target`'s there."""
    region = mask > MASK_THRESHOLD
    if not region.any():
        return source.copy()
    return apply_reinhard(source, mask, lab_stats(source, mask), lab_stats(target, mask))


LabStats = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]  # mean, std of L, a, b


def lab_stats(picture: Image, mask: Mask) -> LabStats:
    """Mean and standard deviation of CIELAB L, a, b inside the mask (it must not be
    empty): what Reinhard's transfer matches, and what a video smooths over time."""
    lab = _to_lab(picture[mask > MASK_THRESHOLD])
    return lab.mean(axis=0), lab.std(axis=0)


def apply_reinhard(source: Image, mask: Mask, source_stats: LabStats,
                   target_stats: LabStats) -> Image:
    """`source` recoloured inside the mask from `source_stats` to `target_stats`."""
    import cv2

    region = mask > MASK_THRESHOLD
    if not region.any():
        return source.copy()
    scale = target_stats[1] / np.maximum(source_stats[1], _MIN_STD)
    moved = (_to_lab(source[region]) - source_stats[0]) * scale + target_stats[0]
    rgb = cv2.cvtColor(moved[:, None, :].astype(np.float32), cv2.COLOR_LAB2RGB)[:, 0]
    output = source.copy()
    output[region] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return output


@COLOUR_TRANSFERS.register("histogram")
def transfer_histogram(source: Image, target: Image, mask: Mask) -> Image:
    """Per RGB channel, the values of `source` inside the mask remapped so their histogram
    matches `target`'s there (classic CDF matching)."""
    region = mask > MASK_THRESHOLD
    if not region.any():
        return source.copy()
    output = source.copy()
    for channel in range(3):
        values = source[region, channel]
        lookup = _match_cdf(values, target[region, channel])
        output[region, channel] = lookup[values]
    return output


def _to_lab(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """float32 (N, 3) CIELAB (L 0-100) of uint8 RGB pixels (N, 3)."""
    import cv2

    scaled = pixels[:, None, :].astype(np.float32) / 255.0
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2LAB)[:, 0]


def _match_cdf(values: npt.NDArray[np.uint8], reference: npt.NDArray[np.uint8]
               ) -> npt.NDArray[np.uint8]:
    """A 256-entry lookup table moving `values`' distribution onto `reference`'s."""
    source_cdf = np.cumsum(np.bincount(values, minlength=256)) / values.size
    counts = np.bincount(reference, minlength=256)
    levels = np.flatnonzero(counts)
    reference_cdf = np.cumsum(counts[levels]) / reference.size
    lookup = np.interp(source_cdf, reference_cdf, levels)
    return np.clip(np.rint(lookup), 0, 255).astype(np.uint8)


def _check_inputs(source: Image, target: Image, mask: Mask) -> None:
    if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 HxWx3 source, got {source.dtype} {source.shape}")
    if target.shape != source.shape or target.dtype != np.uint8:
        raise ValueError(f"target {target.dtype} {target.shape} must match source {source.shape}")
    if mask.shape != source.shape[:2]:
        raise ValueError(f"mask {mask.shape} must be the pictures' HxW {source.shape[:2]}")
