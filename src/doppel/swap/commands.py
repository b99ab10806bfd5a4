"""`doppel swap INPUT --model MODEL -o OUTPUT`: the settings, and the summary users read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.faces.select import REFERENCE_DISTANCE
from doppel.media import WriterConfig
from doppel.provenance.keys import SigningConfig
from doppel.provenance.label import LabelConfig
from doppel.runtime import Runtime

FACE_CHOICES = ("target", "all")


# x264 veryfast: a swap's encoding keeps up with 720p on 2 cores (the speed bench's "encode"
# stage times it alone).
SWAP_VIDEO = WriterConfig(preset="veryfast")


@dataclass(frozen=True)
class SwapConfig:
    input: Path = field(metadata={"help": "video, photo or folder of photos to swap faces in",
                                  "positional": True, "metavar": "INPUT"})
    model: Path = field(metadata={"help": "model folder made by doppel train -o",
                                  "metavar": "MODEL"})
    output: Path = field(metadata={"help": "output video or photo (a folder for a folder of "
                                           "photos)", "short": "-o"})
    face: str = field(default="target", metadata={
        "help": "which faces to replace: target (the model's target person, by identity), "
                "all, or a track number N (0: the first face the tracker meets in the clip)"})
    reference: Path | None = field(default=None, metadata={
        "help": "replace the faces of the person in this photo instead", "metavar": "IMG"})
    reference_distance: float = field(default=REFERENCE_DISTANCE, metadata={
        "help": "largest identity distance (dlib embeddings) at which a face counts as the "
                "target or reference person", "min": 0.0, "max": 2.0})
    # Defaults: the best of the combinations scored on 15-minute tiny models (BENCHMARKS.md):
    # no colour transfer (reinhard cost 0.07 SSIM and raised flicker to 1.37 against the
    # synthetic truth); a Laplacian blend (closer to the truth, SSIM +0.02, and steadier); the
    # landmarks' hull where the model's own mask agrees ("both"): where the target's face is
    # longer than the source's, the hull alone pasted what the source's decoder draws beyond
    # its face (never trained there: a grey arc along the jaw, seen at 720p); scores within
    # the runs' spread of the hull's (SSIM 0.426 against 0.429, distance to the source 0.424
    # against 0.412, NME equal, 2026-11-26 evening).
    colour: str = field(default="none", metadata={
        "help": "colour transfer of the drawn face to the target's (none, reinhard, "
                "histogram)"})
    blend: str = field(default="laplacian", metadata={
        "help": "blend (alpha, laplacian, poisson)"})
    mask: str = field(default="both", metadata={
        "help": "where the face is pasted: learned (the model's mask), hull (the landmarks' "
                "face outline) or both (where both agree)"})
    erode: float = field(default=0.0, metadata={
        "help": "pixels the mask shrinks by before blending", "min": 0.0, "max": 100.0})
    feather: float | None = field(default=None, metadata={
        "help": "soft edge of the mask in pixels (default: 3 %% of the face's size)",
        "min": 0.0, "max": 100.0})
    smooth: bool = field(default=True, metadata={
        "help": "smooth landmarks over time (steadier faces; lags fast motion below 25 fps)"})
    preview: int = field(default=0, metadata={
        "help": "write N frames spread over the range as input | output PNGs (OUTPUT.preview-"
                "K.png) and stop", "min": 0, "metavar": "N"})
    start: float = field(default=0.0, metadata={"help": "first second of video to swap",
                                                "min": 0.0})
    end: float | None = field(default=None, metadata={
        "help": "second of video to stop at (default: the end)", "min": 0.0})
    overwrite: bool = field(default=False, metadata={"help": "replace OUTPUT if it exists"})
    max_faces: int = field(default=4, metadata={"help": "most faces looked for per frame",
                                                "min": 1, "max": 16})
    video: WriterConfig = field(default_factory=lambda: SWAP_VIDEO,
                                metadata={"help": "encoding"})
    label: LabelConfig = field(default_factory=LabelConfig, metadata={"help": "visible label"})
    signing: SigningConfig = field(default_factory=SigningConfig, metadata={
        "help": "signer of the output's manifest"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.face not in FACE_CHOICES and not self.face.isdigit():
            raise DoppelError(f"--face {self.face}: give target, all, or a track number")
        if self.reference is not None and self.face != "target":
            raise DoppelError("--reference chooses the faces to replace, and so does --face "
                              f"{self.face}: give one of them")
        if self.end is not None and self.end <= self.start:
            raise DoppelError(f"--end {self.end:g} is not after --start {self.start:g}")


def run_swap(config: SwapConfig, runtime: Runtime) -> int:
    from doppel.swap.run import swap_media

    summary = swap_media(config, runtime)
    print("\n".join(summary.lines()))
    return 0
