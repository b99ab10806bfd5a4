"""The visible "AI-generated" label drawn onto pictures (on by default, can be turned off)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from doppel.config import check_fields
from doppel.types import PixelBox

Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]


@dataclass(frozen=True)
class LabelConfig:
    visible_label: bool = field(default=True, metadata={
        "help": "draw an 'AI-generated' label on outputs (the watermark and manifest are "
                "always added)"})
    label_text: str = field(default="AI-generated", metadata={"help": "the label's words"})
    label_position: Corner = field(default="bottom-right",
                                   metadata={"help": "corner the label sits in"})
    label_size: float = field(default=0.04, metadata={
        "help": "label text height as a share of the picture height", "min": 0.01, "max": 0.2})

    def __post_init__(self) -> None:
        check_fields(self)


def draw_label(rgb: npt.NDArray[np.uint8], config: LabelConfig) -> npt.NDArray[np.uint8]:
    """A copy of `rgb` (RGB uint8 HxWx3) with the label in a dark box; unchanged if off."""
    if not config.visible_label:
        return rgb
    out = rgb.copy()
    draw_label_in_place(out, config)
    return out


def draw_label_in_place(rgb: npt.NDArray[np.uint8], config: LabelConfig) -> None:
    """`draw_label` into `rgb` itself: for a video frame nobody else holds (copying a 720p
    frame costs ~1 ms, the label's own box a few hundredths)."""
    if not config.visible_label:
        return
    height, width = rgb.shape[:2]
    (top, bottom, left, right), keep, add = _label_layer(config, height, width)
    region = rgb[top:bottom, left:right].astype(np.float32)
    rgb[top:bottom, left:right] = np.rint(region * keep + add).astype(np.uint8)


def label_box(config: LabelConfig, height: int, width: int) -> PixelBox | None:
    """The box (x0, y0, x1, y1) `draw_label` changes on a picture of that size; None if
    nothing."""
    if not config.visible_label:
        return None
    (top, bottom, left, right), _, _ = _label_layer(config, height, width)
    return (left, top, right, bottom) if bottom > top else None


@functools.lru_cache(maxsize=8)
def _label_layer(config: LabelConfig, height: int, width: int
                 ) -> tuple[tuple[int, int, int, int], npt.NDArray[np.float32],
                            npt.NDArray[np.float32]]:
    """Where the label goes and how it changes the pixels there: out = in * keep + add.
    Drawn once per picture size (a video's frames share it) on black and on white, which
    gives both terms of PIL's blending; drawing it on every 720p frame cost ~4.5 ms."""
    size = max(10, round(config.label_size * height))
    font = ImageFont.load_default(size=size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), config.label_text, font=font)
    pad = max(2, size // 4)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = pad if config.label_position.endswith("left") else width - box_w - pad
    y = pad if config.label_position.startswith("top") else height - box_h - pad
    drawn = []
    for background in (0, 255):
        image = Image.new("RGB", (width, height), (background,) * 3)
        draw = ImageDraw.Draw(image, "RGBA")
        draw.rectangle((x, y, x + box_w, y + box_h), fill=(0, 0, 0, 160))
        draw.text((x + pad - left, y + pad - top), config.label_text, font=font,
                  fill=(255, 255, 255, 255))
        drawn.append(np.asarray(image, np.float32))
    on_black, on_white = drawn
    changed = np.argwhere((on_black != 0).any(axis=2) | (on_white != 255).any(axis=2))
    if not len(changed):  # a label entirely off the picture
        return (0, 0, 0, 0), np.ones((0, 0, 3), np.float32), np.zeros((0, 0, 3), np.float32)
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0) + 1
    keep = (on_white - on_black)[y0:y1, x0:x1] / 255
    return (int(y0), int(y1), int(x0), int(x1)), keep, on_black[y0:y1, x0:x1]
