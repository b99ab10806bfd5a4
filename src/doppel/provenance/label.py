"""The visible "AI-generated" label drawn onto pictures (on by default, can be turned off)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from doppel.config import check_fields

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
    height, width = rgb.shape[:2]
    size = max(10, round(config.label_size * height))
    font = ImageFont.load_default(size=size)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image, "RGBA")
    left, top, right, bottom = draw.textbbox((0, 0), config.label_text, font=font)
    pad = max(2, size // 4)
    box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = pad if config.label_position.endswith("left") else width - box_w - pad
    y = pad if config.label_position.startswith("top") else height - box_h - pad
    draw.rectangle((x, y, x + box_w, y + box_h), fill=(0, 0, 0, 160))
    draw.text((x + pad - left, y + pad - top), config.label_text, font=font,
              fill=(255, 255, 255, 255))
    return np.asarray(image)
