"""The forensic detector's benchmark ("Detect" issue), on actors it never saw: training takes
actors from seed 20000, every test clip here is of the identity pool's actors 20-31 and 0-1.

- Test clips (2 s at 10 fps, 256 px; camera encode crf 23, then the final encode at crf 18; the
  same steps as training, doppel.detect.data): real clips of 12 actors, two performances
  each; the classic swap of each of them with the next one's face (unwatermarked); tiny-model
  swaps of pool actor 1 by a model trained `--train-minutes` on pool 0 -> pool 1 (or the model
  given with --model), six performances (watermarked, as doppel swap's outputs are). Every
  clip again after a re-encode at crf 28.
- Detectors: the shipped weights (or --detector); the published-size Meso4 reference trained
  and calibrated here on the same data for as long as the shipped one's config says (--quick:
  1 minute).
- Scores, forensics only: frame-level ROC AUC of each swap kind against the real faces of the
  same encode; video-level accuracy at the default threshold (an inconclusive clip counts as
  wrong); false positives on real faces and real clips at the threshold; a reliability table
  (probability bins: faces, share swapped); faces/s of the detector end to end (decode,
  mediapipe, alignment, network) on the speed benchmark's 720p clip.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from doppel.bench import BenchConfig
from doppel.bench._report import machine_facts, markdown_heading, progress_printer, write_results
from doppel.runtime import Runtime, apply_threads

Result = dict[str, Any]

REAL_ACTORS = range(20, 32)  # pool indices of the held-out actors
MODEL_SOURCE, MODEL_TARGET = 0, 1  # pool indices of the tiny model's pair
SECONDS = 2.0
MODEL_CLIPS = 6
CRFS = (18, 28)
BINS = np.linspace(0.0, 1.0, 11)


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("detect", runtime)
    started = time.perf_counter()
    results: Result = {"suite": "detect", "machine": machine_facts("detect", config.quick)}
    with tempfile.TemporaryDirectory(prefix="doppel-bench-detect-") as work:
        folder = Path(work)
        model = config.model or train_swap_model(folder, 1.0 if config.quick
                                                 else config.train_minutes, say)
        say("making the test clips (held-out actors)")
        faces = test_faces(model, 2 if config.quick else len(REAL_ACTORS))
        results["faces"] = {kind: int((np.array(faces.kinds)[faces.clips] == kind).sum())
                            for kind in sorted(set(faces.kinds))}
        detectors = {"doppel": config.detector}
        detectors["meso4"] = train_reference(folder, config, say)
        results["detectors"] = {}
        for name, weights in detectors.items():
            say(f"scoring {name}")
            results["detectors"][name] = score(weights, faces)
        say("timing the detector end to end on a 720p clip")
        results["speed"] = time_detector(folder, config.detector)
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results("detect", results, format_markdown(results), config.output)


def train_swap_model(folder: Path, minutes: float, say: Any) -> Path:
    from doppel.bench.train import make_training_faceset
    from doppel.train.trainer import TrainConfig, train

    say(f"training a tiny swap model for {minutes:g} min (pool {MODEL_SOURCE} -> "
        f"{MODEL_TARGET})")
    source, target = (make_training_faceset(folder / f"faceset-{index}", index, faces=300)
                      for index in (MODEL_SOURCE, MODEL_TARGET))
    train(TrainConfig(source=source, target=target, output=folder / "model", minutes=minutes),
          Runtime(progress=False))
    return folder / "model"


def train_reference(folder: Path, config: BenchConfig, say: Any) -> Path:
    """Meso4 trained like the shipped detector (its recorded config), into `folder`."""
    from dataclasses import replace

    from doppel.detect.forensic import ForensicDetector
    from doppel.detect.train import DetectorTrainConfig, train_detector

    shipped = ForensicDetector(config.detector).meta["config"]
    options = {key: value for key, value in shipped.items()
               if key in DetectorTrainConfig.__dataclass_fields__ and key != "output"}
    reference = replace(DetectorTrainConfig(**options), network="meso4",
                        output=folder / "meso4")
    if config.quick:
        reference = replace(reference, minutes=1.0, actors=4, seconds=0.5)
    say(f"training the meso4 reference for {reference.minutes:g} min")
    train_detector(reference, Runtime(progress=False))
    return reference.output / "detector.safetensors"


def test_faces(model: Path, actors: int) -> Any:
    import doppel.detect.data as data
    from doppel.detect.data import (classic_swap, join_faces, make_clip_faces, model_swap,
                                    open_face_finder)
    from doppel.synth.pool import POOL_SEEDS

    rng = np.random.default_rng(20261126)
    seeds = [POOL_SEEDS[index] for index in list(REAL_ACTORS)[:actors]]
    parts = []
    finals = data.FINAL_CRFS
    try:
        with open_face_finder() as detector:
            for crf in CRFS:
                data.FINAL_CRFS = (crf,)  # every test clip's last encode, fixed per row
                for index, seed in enumerate(seeds):
                    for variant in (3, 4):
                        parts.append(make_clip_faces(seed, SECONDS, None, f"real crf {crf}",
                                                     rng, detector, variant))
                    partner = seeds[(index + 1) % len(seeds)]
                    data.MARKED_SHARE = 0.0  # the classic swaps carry no watermark
                    parts.append(make_clip_faces(seed, SECONDS, classic_swap(partner),
                                                 f"classic crf {crf}", rng, detector, 5))
                    data.MARKED_SHARE = 0.5
                data.MARKED_SHARE = 1.0  # doppel swap marks everything it makes
                for variant in range(MODEL_CLIPS if actors > 2 else 2):
                    parts.append(make_clip_faces(POOL_SEEDS[MODEL_TARGET], SECONDS,
                                                 model_swap(model), f"tiny crf {crf}", rng,
                                                 detector, 10 + variant))
                data.MARKED_SHARE = 0.5
    finally:
        data.FINAL_CRFS, data.MARKED_SHARE = finals, 0.5
    return join_faces(parts)


def score(weights: Path | None, faces: Any) -> Result:
    from doppel.detect.forensic import ForensicDetector, probability, roc_auc
    from doppel.detect.run import INCONCLUSIVE, THRESHOLD, FaceScore, ForensicReport

    detector = ForensicDetector(weights)
    logits = np.concatenate([detector.score(faces.crops[start:start + 64])
                             for start in range(0, len(faces), 64)])
    chance = probability(logits)
    kinds = np.array(faces.kinds)[faces.clips]
    result: Result = {"network": detector.meta["network"], "auc": {}, "video_accuracy": {}}
    for crf in CRFS:
        real = kinds == f"real crf {crf}"
        for method in ("classic", "tiny"):
            swapped = kinds == f"{method} crf {crf}"
            both = real | swapped
            result["auc"][f"{method} crf {crf}"] = roc_auc(chance[both], swapped[both])
        result["false_positive_faces" + ("" if crf == 18 else f" crf {crf}")] = \
            float((chance[real] >= THRESHOLD).mean())
    clips_right: dict[str, list[bool]] = {}
    real_clips_flagged = []
    for clip in np.unique(faces.clips):
        rows = faces.clips == clip
        report = ForensicReport([FaceScore(i, 0, (0, 0, 0, 0), float(p))
                                 for i, p in enumerate(chance[rows])])
        verdict = report.verdict()
        truth = "swapped" if faces.swapped[rows][0] else "real"
        crf = faces.kinds[clip].rsplit(" ", 1)[-1]
        clips_right.setdefault(f"crf {crf}", []).append(verdict == truth)
        if truth == "real":
            real_clips_flagged.append(verdict == "swapped")
    result["video_accuracy"] = {key: float(np.mean(value)) for key, value in clips_right.items()}
    result["false_positive_clips"] = float(np.mean(real_clips_flagged))
    result["threshold"], result["inconclusive"] = THRESHOLD, list(INCONCLUSIVE)
    bins = np.clip(np.digitize(chance, BINS) - 1, 0, len(BINS) - 2)
    result["reliability"] = [
        {"from": float(BINS[b]), "to": float(BINS[b + 1]), "faces": int((bins == b).sum()),
         "swapped_share": float(faces.swapped[bins == b].mean()) if (bins == b).any() else None}
        for b in range(len(BINS) - 1)]
    return result


def time_detector(folder: Path, weights: Path | None) -> Result:
    from doppel.bench.speed import make_inputs
    from doppel.detect.run import detect_media

    (folder / "speed").mkdir()
    clip, _ = make_inputs(folder / "speed", 4.0)
    started = time.perf_counter()
    report = detect_media(clip, 0, None, True, Runtime(progress=False), weights)
    seconds = time.perf_counter() - started
    faces = report["forensic"]["faces"]
    return {"clip": "1280x720, 4 s, 25 fps, one face", "faces": faces, "seconds": seconds,
            "faces_per_second": faces / seconds}


def format_table(results: Result) -> str:
    lines = [f"detect: {results['machine']['cpu']}; test faces {results['faces']}", ""]
    for name, row in results["detectors"].items():
        aucs = ", ".join(f"{kind} {value:.4f}" for kind, value in row["auc"].items())
        accuracy = ", ".join(f"{kind} {value:.3f}" for kind, value in
                             row["video_accuracy"].items())
        lines += [f"  {name}: AUC {aucs}", f"    video accuracy {accuracy}; false positives: "
                  f"faces {row['false_positive_faces']:.3f}, clips "
                  f"{row['false_positive_clips']:.3f}"]
    speed = results["speed"]
    lines.append(f"  speed: {speed['faces_per_second']:.1f} faces/s ({speed['clip']})")
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    lines = [*markdown_heading("detect", results["machine"],
                               "mediapipe 0.10.14, torch 2.13.0 (CPU)",
                               results.get("wall_seconds")),
             f"Test faces: {results['faces']}", "",
             "| detector | " + " | ".join(f"AUC {kind}" for kind in
                                          results["detectors"]["doppel"]["auc"]) +
             " | video accuracy crf 18 | crf 28 | false positives faces | clips |",
             "|---|" + "---:|" * (len(results["detectors"]["doppel"]["auc"]) + 4)]
    for name, row in results["detectors"].items():
        lines.append(f"| {name} | " + " | ".join(f"{value:.4f}" for value in row["auc"].values())
                     + f" | {row['video_accuracy'].get('crf 18', float('nan')):.3f} | "
                     f"{row['video_accuracy'].get('crf 28', float('nan')):.3f} | "
                     f"{row['false_positive_faces']:.3f} | {row['false_positive_clips']:.3f} |")
    lines += ["", "Reliability (shipped detector): predicted probability bin, faces, share "
              "actually swapped", "", "| bin | faces | swapped |", "|---|---:|---:|"]
    for row in results["detectors"]["doppel"]["reliability"]:
        share = "–" if row["swapped_share"] is None else f"{row['swapped_share']:.3f}"
        lines.append(f"| {row['from']:.1f}-{row['to']:.1f} | {row['faces']} | {share} |")
    speed = results["speed"]
    lines += ["", f"Speed: {speed['faces_per_second']:.1f} faces/s end to end "
              f"({speed['clip']}, {speed['faces']} faces in {speed['seconds']:.1f} s)."]
    return "\n".join(lines) + "\n"
