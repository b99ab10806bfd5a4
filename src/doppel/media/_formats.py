"""Which files are images, which are videos, and how to say so when neither."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from doppel.errors import DoppelError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".gif")
IMAGE_WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_WRITE_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")  # .webm: VP9 + Opus

Kind = Literal["video", "image", "directory"]


def classify(path: Path) -> Kind:
    """Say what `path` is, or raise a DoppelError that says what would be accepted."""
    path = Path(path)
    if not path.exists():
        raise DoppelError(f"no such file or directory: {path}")
    if path.is_dir():
        return "directory"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise DoppelError(
        f"unsupported file type {suffix or '(no extension)'!s} for {path}: use a video "
        f"({' '.join(VIDEO_SUFFIXES)}) or an image ({' '.join(IMAGE_SUFFIXES)})"
    )


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(directory: Path) -> list[Path]:
    """Images directly inside `directory`, in natural order (frame2 before frame10)."""
    images = [
        p for p in Path(directory).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not images:
        raise DoppelError(
            f"no images in directory {directory}: it should hold {' '.join(IMAGE_SUFFIXES)} files"
        )
    return sorted(images, key=_natural_key)
