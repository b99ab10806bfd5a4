"""The demo's stages before measuring: actors, collect, train, swap, labels, detect. Each takes
the demo folder and returns a JSON-ready result the report is written from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from doppel.runtime import Runtime

Result = dict[str, Any]

SIZE, FPS = 256, 25.0  # the quality suite's frame size, at a video frame rate
CROP = 128  # faceset crops: tiny trains at 64 px from them, as `doppel bench train-quality`
PREVIEWS = 8  # training previews over the run, for the timelapse
STEPS_PER_MINUTE = 250  # tiny on 2 cores at batch 16 (~4 steps/s); only spaces the previews
DETECT_FRAMES = 25
TIMELAPSE, TIMELAPSE_MS = "timelapse.webp", 800  # the training previews, animated
SCREENSHOT_FRAME = 50


def actor_seeds() -> tuple[int, int]:
    """Source and target: the quality suite's first pair, so the demo's numbers can be read
    next to BENCHMARKS.md's."""
    from doppel.bench.quality import suite_pairs

    (source, target), = suite_pairs(1)
    return source, target


def make_actors(folder: Path, seconds: float, runtime: Runtime) -> Result:
    """Two labelled clips with truth: the source's twice as long as the target's (the faces
    to learn from), each actor in its own scene and light."""
    from doppel.media import WriterConfig
    from doppel.synth.commands import SynthConfig, write_actor_clip

    config = SynthConfig(output=folder / "actors", actors=2, seconds=seconds, size=SIZE,
                         fps=FPS, video=WriterConfig(preset="veryfast"))
    config.output.mkdir(parents=True, exist_ok=True)
    result: Result = {}
    for role, seed, length in zip(("source", "target"), actor_seeds(),
                                  (2 * seconds, seconds), strict=True):
        video, truth = write_actor_clip(config.output, seed, replace(config, seconds=length),
                                        runtime)
        result[role] = {"seed": seed, "clip": _rel(video, folder), "truth": _rel(truth, folder),
                        "seconds": length, "frames": round(length * FPS)}
        say(f"  {video.name}: {length:g} s of actor {seed} at {SIZE} px "
            f"({role}), labelled and signed; truth {truth.name}")
    return result


def collect(folder: Path, actors: Result, runtime: Runtime) -> Result:
    """`doppel extract` on each clip; the clips' synthetic consent records come along."""
    from doppel.extract import ExtractConfig, extract
    from doppel.faceset import open_faceset

    result: Result = {}
    for role in ("source", "target"):
        output = folder / f"faceset-{role}"
        config = ExtractConfig(inputs=(folder / actors[role]["clip"],), output=output,
                               size=CROP)
        summary = extract(config, runtime)
        with open_faceset(output, readonly=True) as faceset:
            info = faceset.summary()
            consents = [{"kind": c.kind, "subject": c.subject, "id": c.id}
                        for c in faceset.consents]
        result[role] = {"faceset": _rel(output, folder), "lines": summary.lines(),
                        "faces": info.faces, "frames": summary.frames, "consents": consents}
        say(f"  {output.name}: {info.faces} faces from {summary.frames} "
            f"frames; consent: {', '.join(c['kind'] for c in consents)}")
    return result


def train_model(folder: Path, minutes: float, runtime: Runtime) -> Result:
    """`doppel train` (df, tiny) for the time budget, with previews spread over the run."""
    import json

    from doppel.train.trainer import LOG_FILE, PREVIEW_DIR, TrainConfig, train

    preview_every = max(10, round(minutes * STEPS_PER_MINUTE / PREVIEWS))
    config = TrainConfig(source=folder / "faceset-source", target=folder / "faceset-target",
                         output=folder / "model", minutes=minutes, preview_every=preview_every)
    summary = train(config, runtime)
    if summary.stopped_by == "Ctrl-C":  # saved; the demo stops here, unfinished
        raise KeyboardInterrupt
    curve = []
    with open(config.output / LOG_FILE, encoding="utf-8") as file:
        for line in file:
            entry = json.loads(line)
            curve.append([entry["step"], entry["seconds"], entry["loss_source"],
                          entry["loss_target"]])
    previews = sorted((config.output / PREVIEW_DIR).glob("step-*.png"))
    write_timelapse(previews, folder / TIMELAPSE)
    for line in summary.lines():
        say(f"  {line}")
    return {"model": _rel(config.output, folder), "steps": summary.last_step,
            "seconds": summary.seconds, "images_per_second": summary.images_per_second,
            "loss": summary.loss, "stopped_by": summary.stopped_by, "minutes": minutes,
            "curve": _thin(curve, 400), "previews": [_rel(p, folder) for p in previews],
            "timelapse": TIMELAPSE}


def write_timelapse(previews: list[Path], path: Path) -> Path:
    """The previews as one animated WebP. Quality 90: ~7x smaller than lossless, and each
    frame's watermark is still found (confidence 0.96 on a 10-minute demo's previews)."""
    from PIL import Image

    from doppel.files import atomic_path

    frames = [Image.open(preview).convert("RGB") for preview in previews]
    with atomic_path(path) as temp:
        frames[0].save(temp, format="WEBP", save_all=True, append_images=frames[1:],
                       duration=TIMELAPSE_MS, loop=0, quality=90)
    return path


def swap(folder: Path, actors: Result, runtime: Runtime) -> Result:
    """`doppel swap` of the target's clip with the model: labelled and signed."""
    from doppel.swap.commands import SwapConfig
    from doppel.swap.run import swap_media

    config = SwapConfig(input=folder / actors["target"]["clip"], model=folder / "model",
                        output=folder / "swapped.mp4")
    summary = swap_media(config, runtime)
    for line in summary.lines():
        say(f"  {line}")
    return {"video": _rel(config.output, folder), "lines": summary.lines()}


def check_labels(folder: Path, runtime: Runtime) -> Result:
    """`doppel verify` on the swap, and on a screenshot of it re-saved as JPEG (which drops
    the manifest): the watermark remains and the ledger names the file it came from."""
    import numpy as np
    from PIL import Image

    from doppel.media import read_frames
    from doppel.provenance import report_dict, verify
    from doppel.provenance.ledger import LEDGER_FILE

    swapped = folder / "swapped.mp4"
    full = report_dict(verify(swapped))
    frame = next(iter(read_frames(swapped, start=SCREENSHOT_FRAME, end=SCREENSHOT_FRAME + 1)),
                 None) or next(iter(read_frames(swapped, end=1)))
    screenshot = folder / "screenshot.jpg"
    Image.fromarray(np.ascontiguousarray(frame.rgb)).save(screenshot, quality=75)
    ledger = (runtime.config_dir or folder) / LEDGER_FILE
    stripped = report_dict(verify(screenshot, ledger=ledger))
    say(f"  swapped.mp4: {full['verdict']}")
    say(f"  screenshot.jpg (a frame re-saved as JPEG q75): "
        f"{stripped['verdict']}; ledger finds "
        f"{stripped['recovered_from'] or 'nothing'}")
    return {"swapped": full, "screenshot": stripped, "screenshot_path": "screenshot.jpg"}


def detector_digest() -> str:
    """The shipped detector weights' hash: new weights redo the detect stage."""
    import hashlib

    from doppel.detect.forensic import SHIPPED

    return hashlib.sha256(SHIPPED.read_bytes()).hexdigest()[:16]


def detect(folder: Path, actors: Result, runtime: Runtime) -> Result:
    """`doppel detect` on the swap and on the clip it came from: provenance first, then the
    forensic detector's scores on the pixels alone."""
    from doppel.detect.run import detect_media

    result: Result = {}
    for role, path in (("swapped", folder / "swapped.mp4"),
                       ("original", folder / actors["target"]["clip"])):
        output = folder / f"detect-{role}"
        report = detect_media(path, DETECT_FRAMES, output, False, replace(runtime,
                                                                          progress=False))
        forensic = report["forensic"]
        result[role] = {
            "file": _rel(path, folder), "provenance": report["provenance"]["verdict"],
            "verdict": forensic["verdict"], "score": forensic["score"],
            "faces": forensic["faces"], "frames_read": forensic["frames_read"],
            "frame_scores": [[f["frame"], f["score"]] for f in forensic["frames"]],
            "heatmap": _rel(Path(forensic["heatmap"]), folder) if forensic["heatmap"] else None,
            "threshold": forensic["threshold"], "inconclusive": forensic["inconclusive"],
            "trained_on": forensic["detector"]["trained_on"], "note": forensic["note"]}
        score = "no face" if forensic["score"] is None else f"{forensic['score']:.2f}"
        say(f"  {path.name}: provenance {report['provenance']['verdict']}; "
            f"forensic {forensic['verdict']} (probability swapped {score}, "
            f"{forensic['faces']} faces)")
    return result


def say(line: str) -> None:
    print(line, flush=True)


def _rel(path: Path, folder: Path) -> str:
    return Path(path).relative_to(folder).as_posix()


def _thin(rows: list, most: int) -> list:
    """At most `most` rows, evenly spaced, the last kept: enough for a curve."""
    if len(rows) <= most:
        return rows
    step = len(rows) / most
    picked = [rows[int(i * step)] for i in range(most)]
    return picked if picked[-1] is rows[-1] else [*picked, rows[-1]]
