"""`doppel extract INPUT... -o FACESET`: the settings, and the summary users read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.faces.align import Coverage
from doppel.faces.select import REFERENCE_DISTANCE
from doppel.runtime import Runtime

DetectorName = Literal["mediapipe", "dlib"]


@dataclass(frozen=True)
class ExtractConfig:
    inputs: tuple[Path, ...] = field(metadata={
        "help": "videos, photos or folders of photos of the person", "positional": True,
        "metavar": "INPUT"})
    output: Path = field(metadata={"help": "faceset folder (created, or appended to)",
                                   "short": "-o", "metavar": "FACESET"})
    reference: Path | None = field(default=None, metadata={
        "help": "photo of the person whose faces to keep; without it the largest group of "
                "look-alike faces is kept", "metavar": "IMG"})
    reference_distance: float = field(default=REFERENCE_DISTANCE, metadata={
        "help": "largest identity distance to the reference that counts as the same person "
                "(dlib embeddings; dlib's own line for real people is 0.6)", "min": 0.0,
        "max": 2.0})
    all: bool = field(default=False, metadata={
        "help": "keep every person's faces (no reference, no grouping)"})
    consent: str | None = field(default=None, metadata={
        "help": "consent record: a JSON file (subject, statement, date, kind), a text file, "
                "or the statement itself; clips made by doppel synth bring their own",
        "metavar": "TEXT|FILE"})
    subject: str | None = field(default=None, metadata={
        "help": "who the consent is from, as a label (default: the faceset's folder name)"})
    detector: DetectorName = field(default="mediapipe", metadata={
        "help": "face detector and landmarker"})
    size: int = field(default=256, metadata={"help": "crop side in pixels", "min": 64,
                                             "max": 1024})
    coverage: Coverage = field(default="whole-face", metadata={
        "help": "how much of the head a crop shows: face (brows to chin), whole-face (with "
                "the forehead) or head (hair and ears too)"})
    min_size: int = field(default=40, metadata={
        "help": "smallest face kept: its height (brows to chin) in source pixels", "min": 1})
    min_score: float = field(default=0.5, metadata={
        "help": "smallest detection score kept", "min": 0.0, "max": 1.0})
    max_yaw: float = field(default=90.0, metadata={
        "help": "most head turn kept, degrees either way", "min": 0.0, "max": 90.0})
    min_sharpness: float = field(default=20.0, metadata={
        "help": "least sharpness kept: variance of the Laplacian of the crop's inner face "
                "at 128 px (0 keeps blurred faces)", "min": 0.0})
    every: int = field(default=1, metadata={
        "help": "keep every Nth frame of each face (1: all)", "min": 1})
    min_motion: float = field(default=0.0, metadata={
        "help": "skip a face whose landmarks moved less than this share of its size since "
                "the last kept face of the same person (0: keep all; 0.02 drops still frames)",
        "min": 0.0})
    smooth: bool = field(default=False, metadata={
        "help": "smooth landmarks over time (steadier crops; lags fast motion below 25 fps)"})
    max_faces: int = field(default=4, metadata={"help": "most faces looked for per frame",
                                                "min": 1, "max": 16})

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.inputs:
            raise DoppelError("give at least one video, photo or folder to extract from")
        if self.reference is not None and self.all:
            raise DoppelError("--reference keeps one person and --all keeps everyone: "
                              "choose one")


def run_extract(config: ExtractConfig, runtime: Runtime) -> int:
    from doppel.extract.pipeline import extract

    summary = extract(config, runtime)
    print("\n".join(summary.lines()))
    if summary.kept == 0 and summary.sources and not summary.skipped_sources:
        what = ("no face was found" if summary.found == 0 else
                f"all {summary.found} faces found were dropped (see above)")
        raise DoppelError(f"nothing was added to {config.output}: {what}; check the inputs "
                          "show a face, or loosen the filters (--min-size, --min-sharpness, "
                          "--max-yaw, --reference-distance)")
    return 0
