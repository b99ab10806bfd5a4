"""Benchmarks: scripts that print a table and write JSON + markdown under an output folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from doppel.config import check_fields
from doppel.runtime import Runtime

Suite = Literal["media-io", "watermark", "synth", "identity", "extract", "quality", "speed",
                "train", "train-quality", "detect"]


@dataclass(frozen=True)
class BenchConfig:
    suites: tuple[Suite, ...] = field(
        default=("media-io", "watermark", "synth"),
        metadata={"help": "benchmarks to run", "positional": True, "metavar": "SUITE"},
    )
    output: Path = field(default=Path("benchmarks/results"),
                         metadata={"help": "folder for JSON and markdown results", "short": "-o"})
    quick: bool = field(default=False, metadata={"help": "short clips, for a smoke run"})
    swapper: str = field(default="classic", metadata={
        "help": "quality suite: the swapper to score (identity, classic, model)"})
    model: Path | None = field(default=None, metadata={
        "help": "quality suite with --swapper model: the model folder (doppel train -o)"})
    train_minutes: float = field(default=15.0, metadata={
        "help": "train-quality and detect suites: minutes of training a tiny swap model "
                "(--quick: 1)", "min": 0.1})
    detector: Path | None = field(default=None, metadata={
        "help": "detect suite: detector weights to score (default: the shipped ones)"})

    def __post_init__(self) -> None:
        check_fields(self)


def run(config: BenchConfig, runtime: Runtime) -> int:
    from doppel.bench import (detect, extract, identity, media_io, quality, speed, synth,
                              train, train_quality, watermark)

    runners = {"media-io": media_io.run, "watermark": watermark.run, "synth": synth.run,
               "identity": identity.run, "extract": extract.run, "quality": quality.run,
               "speed": speed.run, "train": train.run, "train-quality": train_quality.run,
               "detect": detect.run}
    for suite in config.suites:
        runners[suite](config, runtime)
    return 0
