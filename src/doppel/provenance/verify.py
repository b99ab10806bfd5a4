"""`doppel verify`: is this file labelled as made by doppel, and can the label be trusted?"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from doppel.errors import DoppelError
from doppel.media import classify, read_frames, read_image
from doppel.provenance import ledger as ledger_db
from doppel.provenance.manifest import ManifestReport, read_manifest
from doppel.provenance.watermark import Detection, detect, detect_frames, luma

log = logging.getLogger("doppel.provenance")
MAX_FRAMES = 120  # frames of a video read for the watermark decision


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    manifest: ManifestReport
    watermark: Detection
    frames_checked: int
    recovered: dict[str, Any] | None = field(default=None, repr=False)  # from the ledger
    recovered_from: str | None = None

    @property
    def verdict(self) -> str:
        marked = self.watermark.payload is not None
        manifest = self.manifest
        if marked and manifest.watermark_id not in (None, self.watermark.payload):
            return "manifest and watermark DISAGREE: the picture is not the one signed"
        if manifest.present and not manifest.valid:
            tail = "; watermark present" if marked else ""
            return f"manifest INVALID: the file changed after it was signed{tail}"
        if manifest.valid and marked:
            return "AI-generated (manifest + watermark)"
        if manifest.valid:
            return "AI-generated (manifest only; watermark not found)"
        if marked:
            return "AI-generated (watermark only; manifest stripped)"
        return "no provenance"


def verify(path: Path, *, trust: Path | None = None, ledger: Path | None = None) -> VerifyReport:
    """Check the manifest and the watermark of an image or video file."""
    path = Path(path)
    kind = classify(path)
    manifest = read_manifest(path, trust=trust)
    try:
        if kind == "video":
            # Streamed: detect_frames sums as it goes, so memory does not grow with frames.
            frames = islice(read_frames(path), MAX_FRAMES)
            counted = [0]

            def pictures():
                for frame in frames:
                    counted[0] += 1
                    yield frame.rgb

            watermark = detect_frames(pictures())
            checked = counted[0]
        else:
            watermark, checked = detect(luma(read_image(path))), 1
    except DoppelError as error:
        if not manifest.manifest:
            raise  # neither pixels nor a manifest: not a usable file at all
        # Pixels that cannot be decoded hold no readable mark; the manifest still speaks.
        log.warning("%s: %s", path, error)
        watermark, checked = Detection(None, 0.0), 0
    recovered = source = None
    if watermark.payload is not None and ledger is not None:
        found = ledger_db.look_up(ledger, watermark.payload)
        if found is not None:
            source, recovered = found
    return VerifyReport(path, manifest, watermark, checked, recovered, source)


def report_dict(report: VerifyReport) -> dict[str, Any]:
    """A JSON-ready form of the report."""
    manifest = report.manifest
    watermark = report.watermark
    return {
        "file": str(report.path),
        "verdict": report.verdict,
        "manifest": {
            "present": manifest.present, "valid": manifest.valid,
            "trusted": manifest.state == "Trusted", "state": manifest.state,
            "kind": manifest.kind, "actions": list(manifest.actions),
            "digital_source_type": manifest.source_type, "model_id": manifest.model_id,
            "consent_ids": list(manifest.consent_ids), "tool": manifest.tool,
            "signer": manifest.signer, "problems": list(manifest.failures),
            "watermark_id": None if manifest.watermark_id is None
            else f"{manifest.watermark_id:016x}",
        },
        "watermark": {
            "found": watermark.payload is not None,
            "payload": None if watermark.payload is None else f"{watermark.payload:016x}",
            "confidence": round(watermark.confidence, 4),
            "frames_checked": report.frames_checked,
        },
        "recovered_manifest": report.recovered,
        "recovered_from": report.recovered_from,
    }
