"""Provenance: every file doppel generates is watermarked, labelled and signed.

Writers call `new_watermark_id`, then `mark_frame` on every picture, then `sign_file` on the
finished temp file (the media writers' `on_finish` hook); `verify` reads it all back.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import numpy as np
import numpy.typing as npt

from doppel.provenance import ledger as _ledger
from doppel.types import Frame, PixelBox
from doppel.provenance.keys import SignerFiles, local_signer
from doppel.provenance.label import LabelConfig, draw_label, draw_label_in_place, label_box
from doppel.provenance.manifest import Claim, ManifestReport, manifest_json, read_manifest
from doppel.provenance.manifest import sign_file as _sign_file
from doppel.provenance.verify import VerifyReport, report_dict, verify
from doppel.provenance.watermark import (
    FALSE_POSITIVE_BOUND,
    Detection,
    Watermarker,
    detect,
    detect_frames,
    luma,
)

TOOL_ID = 0xD0  # the payload's first byte: "made by doppel"


def new_watermark_id(model_id: str | None = None) -> int:
    """A fresh 64-bit payload: tool id (8 bits), model id hash (24 bits), output id (32)."""
    model_hash = 0 if model_id is None else int.from_bytes(
        hashlib.sha256(model_id.encode()).digest()[:3], "big")
    return (TOOL_ID << 56) | (model_hash << 32) | secrets.randbits(32)


def mark_frame(rgb: npt.NDArray[np.uint8], marker: Watermarker,
               label: LabelConfig = LabelConfig()) -> npt.NDArray[np.uint8]:
    """Label (when on), then watermark: last, so the label's own pixels carry the mark too."""
    return marker.mark(draw_label(rgb, label))


def mark_video_frame(frame: Frame, changed: list[PixelBox],
                     marker: Watermarker, label: LabelConfig = LabelConfig()) -> Frame:
    """`mark_frame` for a video frame. One that carries its planes as stored (`Frame.yuv`)
    keeps them, and is marked in place: the label is drawn into its RGB, the planes are
    rewritten only inside the `changed` boxes (x0, y0, x1, y1: where its RGB was edited, e.g.
    swapped faces) and the label's, and the watermark goes onto their luma; every other pixel
    keeps its stored value but for the mark. The Frame's `rgb` then lacks the mark: write its
    planes."""
    from dataclasses import replace

    from doppel.media import patch_yuv, yuv_planes

    if frame.yuv is None:
        return replace(frame, rgb=mark_frame(frame.rgb, marker, label))
    draw_label_in_place(frame.rgb, label)
    box = label_box(label, *frame.rgb.shape[:2])
    patch_yuv(frame.yuv, frame.rgb, [*changed, box] if box is not None else list(changed))
    marker.mark_luma(yuv_planes(frame.yuv.planes)[0], frame.rgb)
    return frame


def sign_file(path: Path, claim: Claim, signer: SignerFiles, ledger: Path | None = None) -> None:
    """Embed the signed manifest in `path` and remember it in the ledger under its watermark."""
    _sign_file(path, claim, signer)
    if ledger is not None:
        # `path` may be a temp file about to be renamed: the claim's title names the output.
        title = claim.title or Path(path).name
        _ledger.record(ledger, claim.watermark_id, Path(title), manifest_json(claim, title))


__all__ = [
    "FALSE_POSITIVE_BOUND", "Claim", "Detection", "LabelConfig", "ManifestReport",
    "SignerFiles", "VerifyReport", "Watermarker", "detect", "detect_frames", "draw_label",
    "local_signer", "luma", "mark_frame", "mark_video_frame", "new_watermark_id",
    "read_manifest", "report_dict", "sign_file", "verify",
]
