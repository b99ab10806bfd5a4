"""What training buys ("Train" and "Generate" issues): a tiny model trained for a time budget on
each pair of the quality suite, scored by the quality suite's pair scorer, next to the classic
swapper on the same pairs in the same run; on the first pair also a curve along the way and the
adversarial stage against none.

- Data: each pair's source and target actors (quality suite pair k: pool 2k -> pool 2k+1), 300
  frames each of a performance the suite never scores (`make_training_faceset`, alignment from
  the true landmarks), 128-px crops, in each actor's own scene.
- Training: `doppel train` defaults (df, tiny, face coverage cut from the facesets'
  whole-face crops, batch 16, learning rate 4e-4) for `--train-minutes` (15; --quick: 1, first
  pair only). On the first pair the run is resumed from each curve point to the next (resuming
  is exact, so the stops change nothing but a few seconds of saving) and scored at 1, 2, 5, 10
  and 15 minutes (scaled to the budget); the other pairs are scored at the end.
- Adversarial stage (first pair): at two thirds of the budget the run forks; one branch goes on
  as before, the other with `--gan-weight` (GAN_WEIGHT) for the same minutes; both are scored.
- Scores: `doppel.bench.quality.score_pair` (SSIM vs the ideal swap, source top-1 among the
  suite's identities, NME, pose, flicker) with the model swapper's defaults (as `doppel swap`
  pastes); a preview per point goes to benchmarks/work/. The suite row is the mean over pairs,
  as `doppel bench quality` reports it; the Generate issue's bars read that row.
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
PAIRS = 3  # the whole quality suite
CURVE = (1 / 15, 2 / 15, 5 / 15, 10 / 15, 1.0)  # shares of the budget scored on the way
FORK = 10 / 15  # where the adversarial branch leaves the plain run
GAN_WEIGHT = 0.1
SHOWN = ("ssim", "source_top1", "to_source", "to_target", "nme_all", "nme_placed",
         "nme_expression_all", "flicker_ratio")


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("train-quality", runtime)
    started = time.perf_counter()
    minutes = 1.0 if config.quick else config.train_minutes
    results: Result = {"suite": "train-quality",
                       "machine": machine_facts("train-quality", config.quick),
                       "minutes": minutes, "faces_per_side": FACES, "gan_weight": GAN_WEIGHT}
    with tempfile.TemporaryDirectory(prefix="doppel-bench-train-quality-") as work:
        results.update(measure(Path(work), minutes, 1 if config.quick else PAIRS,
                               config.output, say))
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results("train-quality", results, format_markdown(results), config.output)


def measure(folder: Path, minutes: float, count: int, output: Path, say: Any) -> Result:
    from doppel.bench.quality import gallery_mean, suite_pairs
    from doppel.faces.identity import IdentityEncoder

    suite = suite_pairs(PAIRS)  # the gallery holds the whole suite's identities, as quality's
    encoder = IdentityEncoder()
    say("gallery")
    gallery = {str(seed): gallery_mean(seed, encoder) for pair in suite for seed in pair}
    pairs = [measure_pair(folder / f"pair-{k}", k, suite[k], minutes, gallery, encoder, output,
                          say, curve=k == 0) for k in range(count)]
    return {"pairs": pairs,
            "mean": {"classic": mean_scores([pair["classic"] for pair in pairs]),
                     "tiny": mean_scores([pair["curve"][-1]["scores"] for pair in pairs])}}


def measure_pair(folder: Path, k: int, pair: tuple[int, int], minutes: float, gallery: Result,
                 encoder: Any, output: Path, say: Any, curve: bool) -> Result:
    """Quality suite pair `k` (`pair`: its source and target seeds, pool actors 2k and 2k+1)."""
    from doppel.bench.quality import score_pair
    from doppel.bench.train import make_training_faceset
    from doppel.faces import open_detector
    from doppel.swap import SWAPPERS

    source_seed, target_seed = pair
    say(f"pair {source_seed} -> {target_seed}: facesets of {FACES} faces a side")
    source, target = (make_training_faceset(folder / side, index, faces=FACES, size=128)
                      for side, index in (("source", 2 * k), ("target", 2 * k + 1)))
    previews = output.parent / "work"

    def score(swapper: Any, name: str) -> Result:
        with open_detector("mediapipe", static=True) as detector:
            return score_pair(swapper, source_seed, target_seed, gallery, encoder, detector,
                              previews / f"train-quality-{source_seed}-{name}.png")

    results: Result = {"pair": [source_seed, target_seed],
                       "classic": score(SWAPPERS.get("classic")(), "classic"), "curve": []}
    model = folder / "model"
    trained = 0.0
    points = sorted({*CURVE, FORK}) if curve else [1.0]
    for share in points:
        say(f"pair {source_seed} -> {target_seed}: training to {share * minutes:.1f} min")
        summary = train_for(source, target, model, share * minutes - trained)
        trained = share * minutes
        if share == FORK:
            shutil.copytree(model, folder / "fork")
        if share in CURVE:
            point = {"minutes": trained, "step": summary.last_step,
                     "images_per_second": summary.images_per_second,
                     "scores": score(SWAPPERS.get("model")(model), f"{trained:g}min")}
            results["curve"].append(point)
    if curve:
        say(f"adversarial branch: {(1 - FORK) * minutes:.1f} min with --gan-weight {GAN_WEIGHT}")
        summary = train_for(source, target, folder / "fork", (1 - FORK) * minutes, GAN_WEIGHT)
        results["adversarial"] = {"minutes": minutes, "step": summary.last_step,
                                  "images_per_second": summary.images_per_second,
                                  "scores": score(SWAPPERS.get("model")(folder / "fork"),
                                                  f"{minutes:g}min-gan")}
    return results


def mean_scores(scores: list[Result]) -> Result:
    """The mean of every score the pairs share, as the quality suite's mean row."""
    from doppel.bench.quality import finite_mean

    return {key: finite_mean([each[key] for each in scores])
            for key in scores[0] if all(key in each for each in scores)}


def train_for(source: Path, target: Path, model: Path, minutes: float,
              gan_weight: float = 0.0) -> Any:
    from doppel.train.trainer import TrainConfig, train

    return train(TrainConfig(source=source, target=target, output=model, minutes=minutes,
                             gan_weight=gan_weight, save_every=10 ** 9,
                             preview_every=10 ** 9), Runtime(progress=False))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def rows(results: Result) -> list[tuple[str, Result]]:
    """(what, scores) for every scored point: each pair's classic, curve and adversarial branch,
    then the suite means."""
    named = []
    for pair in results["pairs"]:
        which = f"{pair['pair'][0]} -> {pair['pair'][1]}"
        named.append((f"{which}: classic swapper", pair["classic"]))
        named += [(f"{which}: tiny, {point['minutes']:.3g} min (step {point['step']})",
                   point["scores"]) for point in pair["curve"]]
        if "adversarial" in pair:
            adversarial = pair["adversarial"]
            named.append((f"{which}: tiny, {adversarial['minutes']:g} min, adversarial from "
                          f"{FORK * results['minutes']:.3g} (step {adversarial['step']})",
                          adversarial["scores"]))
    count = len(results["pairs"])
    named.append((f"mean of {count} pairs: classic swapper", results["mean"]["classic"]))
    named.append((f"mean of {count} pairs: tiny, {results['minutes']:g} min",
                  results["mean"]["tiny"]))
    return named


def format_table(results: Result) -> str:
    width = max(len(key) for key in SHOWN)
    lines = [f"train-quality: {len(results['pairs'])} pairs, {results['minutes']:g} min budget",
             "  " + " ".join(f"{key:>{width}}" for key in SHOWN) + "  what"]
    for name, scores in rows(results):
        lines.append("  " + " ".join(f"{_fmt(scores.get(key)):>{width}}" for key in SHOWN)
                     + f"  {name}")
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    classic, tiny = results["mean"]["classic"], results["mean"]["tiny"]
    lines = [*markdown_heading("train-quality", results["machine"], "torch 2.13.0 (CPU)",
                               results["wall_seconds"]),
             f"{len(results['pairs'])} quality suite pairs, {results['faces_per_side']} training "
             f"faces a side, budget {results['minutes']:g} min a pair.", "",
             "| what | " + " | ".join(SHOWN) + " |", "|---|" + "---:|" * len(SHOWN)]
    for name, scores in rows(results):
        lines.append(f"| {name} | " + " | ".join(_fmt(scores.get(key)) for key in SHOWN)
                     + " |")
    lines += ["", "Tiny over classic, suite means: "
              + ", ".join(f"{key} {_ratio(tiny.get(key), classic.get(key))}"
                          for key in ("nme_all", "nme_expression_all", "ssim"))]
    return "\n".join(lines) + "\n"


def _ratio(value: float | None, reference: float | None) -> str:
    return "–" if value is None or not reference else f"{value / reference:.2f}x"
