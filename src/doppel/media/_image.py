"""Still images: read any common image as display-oriented RGB uint8; write PNG/JPEG/WebP."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from doppel.errors import DoppelError
from doppel.files import FinishHook, atomic_path
from doppel.media._formats import IMAGE_WRITE_SUFFIXES, classify

Image.MAX_IMAGE_PIXELS = 400_000_000  # 20k x 20k; beyond that it is more likely an attack


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Read an image file as RGB uint8 HxWx3, rotated as its EXIF orientation says.

    Grayscale is repeated into three channels, 16-bit and float samples are scaled to 8 bits,
    and transparency is composited over black (what is under a transparent pixel is undefined).
    """
    path = Path(path)
    if classify(path) != "image":
        raise DoppelError(f"{path} is not an image file")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb8(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DoppelError(
            f"cannot read image {path}: the file is corrupt or not an image ({error})"
        ) from None


def _to_rgb8(image: Image.Image) -> npt.NDArray[np.uint8]:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow stores 16-bit grayscale in these modes; keep the top 8 bits.
        gray = np.asarray(image).astype(np.uint32)
        gray = (np.clip(gray, 0, 65535) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        scale = 255.0 if gray.max(initial=0.0) <= 1.0 else 1.0
        gray = np.clip(np.rint(gray * scale), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def write_image(
    path: Path,
    rgb: npt.NDArray[np.uint8],
    *,
    quality: int = 95,
    on_finish: FinishHook | None = None,
) -> Path:
    """Write RGB uint8 HxWx3 as PNG, JPEG or WebP (chosen by suffix), atomically.

    `quality` applies to JPEG and WebP (1-100); PNG is lossless. `on_finish` runs on the
    complete temp file before it is renamed into place.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_WRITE_SUFFIXES:
        raise DoppelError(
            f"cannot write images as {suffix or '(no extension)'}: "
            f"use one of {' '.join(IMAGE_WRITE_SUFFIXES)}"
        )
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_image wants RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    image = Image.fromarray(rgb, "RGB")
    options: dict[str, object] = {}
    if suffix in (".jpg", ".jpeg"):
        options = {"format": "JPEG", "quality": quality, "subsampling": 0 if quality >= 90 else 2}
    elif suffix == ".webp":
        options = {"format": "WEBP", "quality": quality, "method": 4}
    else:
        options = {"format": "PNG", "compress_level": 6}
    with atomic_path(path, on_finish=on_finish) as temp:
        image.save(temp, **options)
    return path


def tile_grid(tiles: list[npt.NDArray[np.uint8]], background: int = 255
              ) -> npt.NDArray[np.uint8]:
    """Lay equal RGB uint8 HxWx3 tiles row by row in a grid as near square as the tiles allow
    (columns = ceil(sqrt(n * H / W))); empty places are `background` grey."""
    height, width = tiles[0].shape[:2]
    columns = max(1, min(len(tiles), math.ceil(math.sqrt(len(tiles) * height / width))))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * height, columns * width, 3), background, np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        sheet[row * height:(row + 1) * height, column * width:(column + 1) * width] = tile
    return sheet
