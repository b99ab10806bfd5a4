"""`doppel detect FILE` and `doppel detector train`: the command line's entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from doppel.config import check_fields
from doppel.detect.train import DetectorTrainConfig, train_detector
from doppel.runtime import Runtime


@dataclass(frozen=True)
class DetectConfig:
    input: Path = field(metadata={"help": "video or photo to check", "positional": True})
    output: Path | None = field(default=None, metadata={
        "help": "folder for report.json and heatmap.png (default: print only)", "short": "-o"})
    frames: int = field(default=0, metadata={
        "help": "check this many frames spread over a video (0: every frame)", "min": 0,
        "metavar": "N"})
    forensic_only: bool = field(default=False, metadata={
        "help": "skip the provenance checks (manifest, watermark): pixels only"})
    weights: Path | None = field(default=None, metadata={
        "help": "detector weights (default: the shipped ones)"})
    json: bool = field(default=False, metadata={"help": "print the whole report as JSON"})

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class DetectorConfig(DetectorTrainConfig):
    action: Literal["train"] = field(default="train", metadata={
        "help": "train: reproduce the detector's weights from synthetic actors",
        "positional": True, "metavar": "{train}"})


def run_detect(config: DetectConfig, runtime: Runtime) -> int:
    import json

    from doppel.detect.run import detect_media

    report = detect_media(config.input, config.frames, config.output, config.forensic_only,
                          runtime, config.weights)
    if config.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\n".join(_lines(report)))
    return 0


def run_detector(config: DetectorConfig, runtime: Runtime) -> int:
    print("\n".join(train_detector(config, runtime).lines()))
    return 0


def _lines(report: dict) -> list[str]:
    lines = [f"{report['file']}:"]
    provenance = report.get("provenance")
    if provenance is not None:
        lines.append(f"  provenance: {provenance['verdict']}")
    forensic = report["forensic"]
    score = forensic["score"]
    shown = "" if score is None else f" (probability swapped {score:.2f})"
    lines.append(f"  forensic: {forensic['verdict']}{shown}, {forensic['faces']} face(s) in "
                 f"{forensic['frames_read']} frame(s)")
    for track in forensic["tracks"]:
        lines.append(f"    face {track['track']}: {track['score']:.2f} over "
                     f"{track['faces']} frame(s)")
    if forensic["heatmap"]:
        lines.append(f"  heatmap: {forensic['heatmap']}")
    lines.append(f"  note: {forensic['note']}")
    return lines
