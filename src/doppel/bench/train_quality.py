"""What training buys ("Train" issue): a tiny model trained on one pair of the quality suite
for a time budget, scored by the quality suite's pair scorer at points along the way, next to
the classic swapper on the same pair in the same run; and the adversarial stage against none
from the same run.

- Data: the pair's source and target actors (quality suite pair 0: pool 0 -> pool 1), 300
  frames each of a performance the suite never scores (`make_training_faceset`, alignment from
  the true landmarks), 128-px crops, in each actor's own scene.
- Training: `doppel train` defaults (df, tiny, face coverage cut from the facesets'
  whole-face crops, batch 16, learning rate 4e-4) for `--train-minutes` (15; --quick: 1), resumed
  from each curve point to the next (resuming is exact, so the stops change nothing but a few
  seconds of saving). The curve is scored at 1, 2, 5, 10 and 15 minutes (scaled to the budget).
- Adversarial stage: at two thirds of the budget the run forks; one branch goes on as before,
  the other with `--gan-weight` (GAN_WEIGHT) for the same minutes; both are scored at the end.
- Scores: `doppel.bench.quality.score_pair` (SSIM vs the ideal swap, source top-1 among the
  suite's identities, NME, pose, flicker) with the model swapper's defaults (as `doppel swap`
  pastes); a preview per point goes to benchmarks/work/.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from doppel.bench import BenchConfig
from doppel.bench._report import machine_facts, markdown_heading, progress_printer, write_results
from doppel.runtime import Runtime, apply_threads

Result = dict[str, Any]

FACES = 300
CURVE = (1 / 15, 2 / 15, 5 / 15, 10 / 15, 1.0)  # shares of the budget scored on the way
FORK = 10 / 15  # where the adversarial branch leaves the plain run
GAN_WEIGHT = 0.1
SHOWN = ("ssim", "source_top1", "to_source", "to_target", "nme_all", "nme_expression_all",
         "flicker_ratio")


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("train-quality", runtime)
    started = time.perf_counter()
    minutes = 1.0 if config.quick else config.train_minutes
    results: Result = {"suite": "train-quality",
                       "machine": machine_facts("train-quality", config.quick),
                       "minutes": minutes, "faces_per_side": FACES, "gan_weight": GAN_WEIGHT}
    with tempfile.TemporaryDirectory(prefix="doppel-bench-train-quality-") as work:
        results.update(measure(Path(work), minutes, config.output, say))
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results("train-quality", results, format_markdown(results), config.output)


def measure(folder: Path, minutes: float, output: Path, say: Any) -> Result:
    from doppel.bench.quality import gallery_mean, score_pair, suite_pairs
    from doppel.bench.train import make_training_faceset
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder
    from doppel.swap import SWAPPERS

    pairs = suite_pairs(3)  # the gallery holds the whole suite's identities, as quality's
    source_seed, target_seed = pairs[0]
    encoder = IdentityEncoder()
    say("gallery")
    gallery = {str(seed): gallery_mean(seed, encoder) for pair in pairs for seed in pair}
    say(f"facesets: {FACES} faces of each actor")
    source, target = (make_training_faceset(folder / side, index, faces=FACES, size=128)
                      for side, index in (("source", 0), ("target", 1)))
    previews = output.parent / "work"

    def score(swapper: Any, name: str) -> Result:
        with open_detector("mediapipe", static=True) as detector:
            return score_pair(swapper, source_seed, target_seed, gallery, encoder, detector,
                              previews / f"train-quality-{name}.png")

    results: Result = {"pair": [source_seed, target_seed],
                       "classic": score(SWAPPERS.get("classic")(), "classic"), "curve": []}
    model = folder / "model"
    trained = 0.0
    points = sorted({*CURVE, FORK})
    for share in points:
        say(f"training to {share * minutes:.1f} min")
        summary = train_for(source, target, model, share * minutes - trained)
        trained = share * minutes
        if share == FORK:
            shutil.copytree(model, folder / "fork")
        if share in CURVE:
            point = {"minutes": trained, "step": summary.last_step,
                     "images_per_second": summary.images_per_second,
                     "scores": score(SWAPPERS.get("model")(model), f"{trained:g}min")}
            results["curve"].append(point)
    say(f"adversarial branch: {(1 - FORK) * minutes:.1f} min with --gan-weight {GAN_WEIGHT}")
    summary = train_for(source, target, folder / "fork", (1 - FORK) * minutes, GAN_WEIGHT)
    results["adversarial"] = {"minutes": minutes, "step": summary.last_step,
                              "images_per_second": summary.images_per_second,
                              "scores": score(SWAPPERS.get("model")(folder / "fork"),
                                              f"{minutes:g}min-gan")}
    return results


def train_for(source: Path, target: Path, model: Path, minutes: float,
              gan_weight: float = 0.0) -> Any:
    from doppel.train.trainer import TrainConfig, train

    return train(TrainConfig(source=source, target=target, output=model, minutes=minutes,
                             gan_weight=gan_weight, save_every=10 ** 9,
                             preview_every=10 ** 9), Runtime(progress=False))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def rows(results: Result) -> list[tuple[str, Result]]:
    named = [("classic swapper", results["classic"])]
    named += [(f"tiny, {point['minutes']:g} min (step {point['step']})", point["scores"])
              for point in results["curve"]]
    adversarial = results["adversarial"]
    named.append((f"tiny, {adversarial['minutes']:g} min, adversarial from "
                  f"{FORK * results['minutes']:g} (step {adversarial['step']})",
                  adversarial["scores"]))
    return named


def format_table(results: Result) -> str:
    lines = [f"train-quality: pair {results['pair'][0]} -> {results['pair'][1]}, "
             f"{results['minutes']:g} min budget",
             "  " + " ".join(f"{key:>13}" for key in SHOWN) + "  what"]
    for name, scores in rows(results):
        lines.append("  " + " ".join(f"{_fmt(scores.get(key)):>13}" for key in SHOWN)
                     + f"  {name}")
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    lines = [*markdown_heading("train-quality", results["machine"], "torch 2.13.0 (CPU)",
                               results["wall_seconds"]),
             f"Pair {results['pair'][0]} -> {results['pair'][1]} (quality suite pair 0), "
             f"{results['faces_per_side']} training faces a side, budget "
             f"{results['minutes']:g} min.", "",
             "| what | " + " | ".join(SHOWN) + " |", "|---|" + "---:|" * len(SHOWN)]
    for name, scores in rows(results):
        lines.append(f"| {name} | " + " | ".join(_fmt(scores.get(key)) for key in SHOWN)
                     + " |")
    return "\n".join(lines) + "\n"
