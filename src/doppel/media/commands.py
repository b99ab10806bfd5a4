"""`doppel probe` and `doppel cut`: look inside media files and cut clips from them."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.media._probe import probe
from doppel.media._read import read_frames
from doppel.media._write import VideoWriter, WriterConfig
from doppel.provenance.keys import SigningConfig
from doppel.runtime import Runtime


@dataclass(frozen=True)
class ProbeConfig:
    paths: tuple[Path, ...] = field(
        metadata={"help": "video files, images or directories of images", "positional": True,
                  "metavar": "PATH"}
    )
    json: bool = field(default=False, metadata={"help": "print one JSON object per path"})


def run_probe(config: ProbeConfig, runtime: Runtime) -> int:
    for path in config.paths:
        info = probe(path)
        facts = {k: (str(v) if isinstance(v, (Path, Fraction)) else v)
                 for k, v in asdict(info).items()}
        if config.json:
            print(json.dumps(facts))
            continue
        fps = f"{info.fps} ({float(info.fps):.3f})" if info.fps else "-"
        duration = f"{float(info.duration):.3f} s" if info.duration is not None else "-"
        print(f"{info.path}: {info.kind} {info.width}x{info.height}, fps {fps}"
              f"{' variable' if info.variable_rate else ''}, {info.frame_count} frame(s), "
              f"{duration}, audio {'yes' if info.has_audio else 'no'}, rotation {info.rotation}, "
              f"codec {info.codec or '-'}")
    return 0


@dataclass(frozen=True)
class CutConfig:
    input: Path = field(metadata={"help": "video to cut", "positional": True})
    output: Path = field(metadata={"help": "output video (.mp4, .mov, .mkv)", "short": "-o"})
    start: float = field(default=0.0, metadata={"help": "start time in seconds", "min": 0.0})
    end: float | None = field(default=None, metadata={"help": "end time in seconds "
                                                      "(default: the end of the input)"})
    video: WriterConfig = field(default_factory=WriterConfig, metadata={"help": "encoding"})
    signing: SigningConfig = field(default_factory=SigningConfig, metadata={
        "help": "signer for a labelled input's piece"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.end is not None and self.end <= self.start:
            raise DoppelError(f"--end {self.end} must be after --start {self.start}")


def run_cut(config: CutConfig, runtime: Runtime) -> int:
    """Re-encode a time range of a video with its audio (frame-exact, unlike a stream copy)."""
    info = probe(config.input)
    if info.kind != "video":
        raise DoppelError(f"{config.input} is not a video: cut works on video files")
    first = math.ceil(Fraction(config.start) * info.fps - Fraction(1, 1000))
    last = info.frame_count if config.end is None else min(
        info.frame_count, math.ceil(Fraction(config.end) * info.fps - Fraction(1, 1000)))
    if first >= last:
        raise DoppelError(f"{config.input} has no frames between {config.start} s and "
                          f"{config.end} s (it lasts {float(info.duration):.3f} s)")
    frames = read_frames(config.input, start=first, end=last, threads=runtime.threads)
    with VideoWriter(config.output, info.fps, audio_from=config.input, config=config.video,
                     threads=runtime.threads, inputs=(config.input,),
                     on_finish=_carry_provenance(config, runtime)) as writer:
        for frame in tqdm(frames, total=last - first, unit="frame", disable=not runtime.progress,
                          desc="cut", leave=False):
            writer.write(frame)
    print(f"wrote {config.output}: {writer.frames_written} frames")
    return 0


def _carry_provenance(config: CutConfig, runtime: Runtime):
    """A cut of a doppel-labelled video is signed as an edit of it, so its credentials (and
    the parent manifest, inside the ingredient) stay with the piece; the watermark is in the
    pixels already."""
    from doppel.provenance import Claim, read_manifest, sign_file
    from doppel.provenance.keys import signer_for
    from doppel.provenance.ledger import LEDGER_FILE

    parent = read_manifest(config.input)
    if parent.watermark_id is None or runtime.config_dir is None:
        return None
    claim = Claim("edit", parent.watermark_id, parent.consent_ids, parent.model_id,
                  parent=config.input, title=config.output.name)
    signer = signer_for(config.signing, runtime.config_dir)
    ledger = runtime.config_dir / LEDGER_FILE
    return lambda temp: sign_file(temp, claim, signer, ledger)
