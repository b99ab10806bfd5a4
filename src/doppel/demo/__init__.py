"""`doppel demo -o DIR`: the whole pipeline on two synthetic actors — render, collect, train,
swap, label and verify, detect, measure against the truth — and DIR/report.html showing it.
Each stage is remembered by its settings, so a rerun redoes only what changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from doppel.config import check_fields
from doppel.runtime import Runtime

REPORT = "report.html"


@dataclass(frozen=True)
class DemoConfig:
    output: Path = field(default=Path("doppel-demo"), metadata={
        "help": "folder for the demo's files and report.html (created; reused by a rerun)",
        "short": "-o"})
    minutes: float = field(default=10.0, metadata={
        "help": "minutes the tiny model trains (the demo takes about 4 more)", "min": 0.05,
        "max": 600.0})
    seconds: float = field(default=6.0, metadata={
        "help": "length of the target's clip to swap (the source's clip is twice as long)",
        "min": 1.0, "max": 60.0})
    fresh: bool = field(default=False, metadata={
        "help": "redo every stage (default: reuse the stages an earlier run finished with "
                "the same settings)"})

    def __post_init__(self) -> None:
        check_fields(self)


def run(config: DemoConfig, runtime: Runtime) -> int:
    from doppel.demo import measure, pipeline
    from doppel.demo.report import write_report
    from doppel.demo.stages import Stages
    from doppel.files import make_output_folder

    folder = make_output_folder(config.output)
    started = time.perf_counter()
    stages = Stages(folder, total=8, fresh=config.fresh)
    quiet = replace(runtime, progress=False)
    actors = stages.run(
        "actors", "synthetic actors: the source and the target, labelled, with ground truth",
        {"seconds": config.seconds, "size": pipeline.SIZE, "fps": pipeline.FPS,
         "seeds": pipeline.actor_seeds()}, (folder / "actors",),
        lambda: pipeline.make_actors(folder, config.seconds, runtime))
    collect = stages.run(
        "collect", "collect: doppel extract on both clips (faces tracked, aligned, masked)",
        {"crop": pipeline.CROP}, (folder / "faceset-source", folder / "faceset-target"),
        lambda: pipeline.collect(folder, actors, runtime))
    trained = stages.run(
        "train", f"train: the tiny model, {config.minutes:g} min (Ctrl-C stops it; a rerun "
                 "starts the stage again)",
        {"minutes": config.minutes}, (folder / "model", folder / pipeline.TIMELAPSE),
        lambda: pipeline.train_model(folder, config.minutes, runtime))
    swapped = stages.run(
        "swap", "swap: doppel swap of the target's clip with the model (labelled, signed)",
        {}, (folder / "swapped.mp4",), lambda: pipeline.swap(folder, actors, runtime))
    labels = stages.run(
        "labels", "verify: the swap's manifest and watermark, and a stripped screenshot's",
        {}, (folder / "screenshot.jpg",), lambda: pipeline.check_labels(folder, quiet))
    detected = stages.run(
        "detect", "detect: provenance and the forensic detector on the swap and the original",
        {"frames": pipeline.DETECT_FRAMES, "detector": pipeline.detector_digest()},
        (folder / "detect-swapped", folder / "detect-original"),
        lambda: pipeline.detect(folder, actors, quiet))
    measured = stages.run(
        "measure", "measure: the swap and the classic baseline against the ground truth",
        {"webm_crf": measure.WEBM_CRF}, (folder / measure.COMPARISON, folder / measure.STILLS),
        lambda: measure.measure(folder, actors, runtime))
    print(f"[8/8] report: {folder / REPORT}", flush=True)
    path = write_report(folder / REPORT, {
        "config": {"minutes": config.minutes, "seconds": config.seconds},
        "actors": actors, "collect": collect, "train": trained, "swap": swapped,
        "labels": labels, "detect": detected, "measure": measured,
        "times": [vars(t) for t in stages.times],
        "wall_seconds": time.perf_counter() - started})
    print(f"\nOpen {path} in a browser: the swap next to its original and the truth, how "
          "good it is, and how it is labelled and detected.")
    return 0
