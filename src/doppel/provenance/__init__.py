"""Provenance: the invisible watermark (and, to come, C2PA manifests, visible label, verify)."""

from doppel.provenance.watermark import (
    FALSE_POSITIVE_BOUND,
    Detection,
    Watermarker,
    detect,
    detect_frames,
    luma,
)

__all__ = ["FALSE_POSITIVE_BOUND", "Detection", "Watermarker", "detect", "detect_frames", "luma"]
