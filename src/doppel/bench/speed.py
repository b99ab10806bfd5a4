"""The speed benchmark: every pipeline stage that exists, at fixed sizes, each in a fresh
process (frames/s and peak RSS), on one clip ("Measure" issue).

The clip: a 10 s (--quick: 2 s), 25 fps, 1280x720 H.264 clip (x264 crf 23) of one pool
actor, watermarked (10 s as extract's own bench: on a shorter clip the ~0.5 s a swap takes to
start weighs more than on any clip worth swapping); the source face for swapping is another
pool actor's frontal picture (PNG).
Stages, each timed inside its own process from the start of its work (models loading
included, Python imports not), peak RSS for the whole process:
- decode: frames to RGB (what every stage starts with);
- encode: decode, then H.264 again as `doppel swap` writes it (x264 veryfast, crf 18, from
  the decoded planes), with nothing between: the floor under every swap, and the same-run
  reference for the swap bar (the issue's "x264 veryfast alone");
- faces: decode + mediapipe in video mode (boxes, 478 landmarks, head pose);
- extract: `doppel extract` with default settings into a fresh faceset (256-px crops);
- swap (classic): decode, find the face, classic landmark swap, label (watermark + visible
  label), H.264 encode, through the library;
- swap tiny / base / hq: `doppel swap` with default settings (x264 veryfast) and a df model
  of that preset (trained two steps: speed does not depend on training);
- detect (real or swapped): timed by `doppel bench detect`, listed as such.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from doppel.bench import BenchConfig
from doppel.bench._report import machine_facts, markdown_heading, progress_printer, write_results
from doppel.runtime import Runtime

Result = dict[str, Any]

SIZE, FPS, SECONDS, QUICK_SECONDS, CRF = (1280, 720), 25.0, 10.0, 2.0, 23
STAGES = ("decode", "encode", "faces", "extract", "swap")
SWAP_PRESETS, QUICK_SWAP_PRESETS = ("tiny", "base", "hq"), ("tiny",)
NOT_BUILT = {"train": "`doppel bench train` measures training",
             "detect": "`doppel bench detect` times the detector end to end"}


def run(config: BenchConfig, runtime: Runtime) -> None:
    say = progress_printer("speed", runtime)
    started = time.perf_counter()
    seconds = QUICK_SECONDS if config.quick else SECONDS
    results: Result = {"suite": "speed", "machine": machine_facts("speed", config.quick),
                       "clip": {"size": list(SIZE), "fps": FPS, "seconds": seconds,
                                "crf": CRF},
                       "stages": {}, "not_built": NOT_BUILT}
    with tempfile.TemporaryDirectory(prefix="doppel-bench-speed-") as work:
        folder = Path(work)
        say(f"rendering a {seconds:g} s {SIZE[0]}x{SIZE[1]} clip and a source picture")
        clip, source = make_inputs(folder, seconds)
        for stage in STAGES:
            say(f"timing {stage}")
            results["stages"][stage] = time_stage(stage, clip, source, folder)
        for preset in QUICK_SWAP_PRESETS if config.quick else SWAP_PRESETS:
            say(f"timing doppel swap with a {preset} model")
            model = make_model(folder / f"model-{preset}", preset)
            results["stages"][f"swap {preset}"] = time_stage("swap-model", clip, model, folder,
                                                             f"swap-{preset}")
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results("speed", results, format_markdown(results), config.output)


def make_inputs(folder: Path, seconds: float) -> tuple[Path, Path]:
    from doppel.bench.extract import write_clip, write_marked_image
    from doppel.synth import generate_performance, neutral_performance, random_actor, \
        random_scene, render
    from doppel.synth.pool import POOL_SEEDS

    target, source = POOL_SEEDS[2], POOL_SEEDS[3]
    performance = generate_performance(seconds, FPS, target, max_yaw=30.0)
    clip = write_clip(folder / "clip.mp4",
                      (frame.rgb for frame in render(random_actor(target), performance,
                                                     random_scene(target), SIZE)), FPS, CRF)
    picture = next(render(random_actor(source), neutral_performance(1, FPS),
                          random_scene(source), 512))
    return clip, write_marked_image(folder / "source.png", picture.rgb)


def make_model(folder: Path, preset: str) -> Path:
    """A `preset` df model for the clip's actor (target: pool 2, source: pool 3), trained
    two steps: speed does not depend on what it has learnt."""
    from doppel.bench.train import make_training_faceset
    from doppel.train.trainer import TrainConfig, train

    size = 256 if preset == "hq" else 128
    target, source = (make_training_faceset(folder.parent / f"{folder.name}-{side}", index,
                                            faces=8, size=size)
                      for side, index in (("target", 2), ("source", 3)))
    train(TrainConfig(source=source, target=target, output=folder, preset=preset, steps=2,
                      batch=4, save_every=10, preview_every=10), Runtime(progress=False))
    return folder


def time_stage(stage: str, clip: Path, source: Path, folder: Path, name: str | None = None
               ) -> Result:
    """Run `stage` in a fresh process (doppel.bench._stage) and read its report."""
    work = folder / (name or stage)
    work.mkdir()
    command = [sys.executable, "-m", "doppel.bench._stage", stage, str(clip), str(source),
               str(work)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {stage} stage failed ({done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["fps"] = report["frames"] / report["seconds"]
    report["faces_per_second"] = report["faces"] / report["seconds"]
    return report


def format_table(results: Result) -> str:
    machine, clip = results["machine"], results["clip"]
    lines = [f"speed: {machine['cpu']}, {machine['cores']} cores; {clip['size'][0]}x"
             f"{clip['size'][1]} clip, {clip['seconds']:g} s at {clip['fps']:g} fps", "",
             f"  {'stage':10} {'frames/s':>9} {'faces/s':>8} {'peak RSS':>10}"]
    for stage, row in results["stages"].items():
        lines.append(f"  {stage:10} {row['fps']:9.1f} {row['faces_per_second']:8.1f} "
                     f"{row['peak_rss_kib'] / 1024:7.0f} MiB")
    lines += [f"  {stage:10} not built: {why}" for stage, why in results["not_built"].items()]
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    clip = results["clip"]
    lines = markdown_heading("speed", results["machine"], "mediapipe 0.10.14, dlib 20.0.1",
                             results["wall_seconds"])
    lines += [f"Clip: {clip['size'][0]}x{clip['size'][1]}, {clip['seconds']:g} s at "
              f"{clip['fps']:g} fps, x264 crf {clip['crf']}, one face.", "",
              "| stage | frames/s | faces/s | peak RSS (MiB) |", "|---|---:|---:|---:|"]
    for stage, row in results["stages"].items():
        lines.append(f"| {stage} | {row['fps']:.1f} | {row['faces_per_second']:.1f} | "
                     f"{row['peak_rss_kib'] / 1024:.0f} |")
    lines += [f"| {stage} | not built: {why} | | |" for stage, why in
              results["not_built"].items()]
    return "\n".join(lines) + "\n"
