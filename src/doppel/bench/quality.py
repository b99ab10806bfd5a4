"""The swap-quality benchmark: a swapper on a fixed suite of synthetic actor pairs, scored
against the ideal swap (`render_swap_truth`) with `doppel.metrics` ("Measure" issue).

Suite: 3 pairs of identity-pool actors (source = pool seed 2k, target = 2k+1, k = 0..2; --quick:
1 pair). Each target clip: `generate_performance(3.0, 10.0, target seed, max_yaw=30)` (30
frames) in `random_scene(target seed)` at 256x256. The source picture: the source actor
frontal and neutral in its own scene (`random_scene(source seed)`, other light and background,
as a user's source footage would be). Faces are found with mediapipe (photo mode for the
source, video mode for the target clip and for the output); the swapper gets the target face
mediapipe found, never the truth.

Scores per pair (medians over frames unless said): masked PSNR and SSIM against the truth on
the truth's face mask, landmark NME of the output's face against the truth's landmarks (68
points; all, mouth, eyes; and nme_floor, the detector's own NME on the truth frames, which no
swap can beat; nme_placed, the NME of the truth's own face placed where the alignment puts
the target's face: what a perfect swapper that keeps the target's placement scores,
doppel.metrics.face.placed_nme), its expression part (nme_expression_all/mouth: faces brought
to the template by eyes and nose, each side's median face over the clip taken away; the truth
is the source's whole head, whose size and proportions differ from the target's, so the plain
NME counts face shape too: doppel.metrics.face.expression_nme), pose error, identity distance
of the output face to the source's and the target's mean embeddings, top-1 retrieval of the
source among the suite's 6 identities (gallery: means of 5 frames of each actor in its own
scene), flicker ratio (output / truth; 1 = as stable as reality), coverage (frames with a
face found in the output).
A preview per pair (source | target | output | truth, frame 15) is written to `work/` beside the
results folder (benchmarks/work/, kept out of git), watermarked like every picture doppel
makes (visible label off): look at them.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from doppel.bench import BenchConfig
from doppel.bench._report import (Say, machine_facts, markdown_heading, progress_printer,
                                  write_results)
from doppel.runtime import Runtime, apply_threads

Result = dict[str, Any]

PAIRS, QUICK_PAIRS = 3, 1
SECONDS, FPS, SIZE = 3.0, 10.0, 256
GALLERY_FRAMES = 5
PREVIEW_FRAME = 15
KEYS = ("coverage", "ssim", "psnr_db", "nme_all", "nme_floor", "nme_placed", "nme_mouth",
        "nme_eyes",
        "nme_expression_all", "nme_expression_mouth", "yaw_error", "pitch_error", "roll_error",
        "to_source", "to_target", "source_top1", "flicker_ratio")


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("quality", runtime)
    started = time.perf_counter()
    pairs = suite_pairs(QUICK_PAIRS if config.quick else PAIRS)
    results: Result = {"suite": "quality", "swapper": config.swapper,
                       "machine": machine_facts(f"quality --swapper {config.swapper}",
                                                config.quick),
                       "pairs": score_suite(config.swapper, pairs, config.output, say,
                                            config.model)}
    results["mean"] = {key: finite_mean([pair["scores"][key] for pair in results["pairs"]])
                       for key in KEYS}
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results(f"quality-{config.swapper}", results, format_markdown(results),
                  config.output)


def suite_pairs(count: int) -> list[tuple[int, int]]:
    from doppel.synth.pool import POOL_SEEDS

    return [(POOL_SEEDS[2 * k], POOL_SEEDS[2 * k + 1]) for k in range(count)]


def score_suite(swapper_name: str, pairs: list[tuple[int, int]], output: Path, say: Say,
                model: Path | None = None) -> list[Result]:
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder
    from doppel.swap import SWAPPERS

    swapper = SWAPPERS.get(swapper_name)(model) if swapper_name == "model" \
        else SWAPPERS.get(swapper_name)()
    encoder = IdentityEncoder()
    seeds = [seed for pair in pairs for seed in pair]
    say(f"gallery: {len(seeds)} identities x {GALLERY_FRAMES} frames")
    gallery = {str(seed): gallery_mean(seed, encoder) for seed in seeds}
    results = []
    with open_detector("mediapipe", static=True) as photo_detector:
        for source_seed, target_seed in pairs:
            say(f"pair {source_seed} -> {target_seed}: swapping with {swapper_name}")
            started = time.perf_counter()
            scores = score_pair(swapper, source_seed, target_seed, gallery, encoder,
                                photo_detector, output.parent / "work" /
                                f"quality-{swapper_name}-{source_seed}-{target_seed}.png")
            results.append({"source": source_seed, "target": target_seed, "scores": scores,
                            "seconds": time.perf_counter() - started})
    return results


def gallery_mean(seed: int, encoder: Any) -> np.ndarray:
    """The mean embedding of an actor over a few frames of its own scene (other frames than
    the suite's clips: a performance with another seed)."""
    from doppel.synth import generate_performance, random_actor, random_scene, render

    performance = generate_performance(GALLERY_FRAMES / 2.5, 2.5, seed + 7919, max_yaw=20.0)
    embeddings = [encoder.embed(frame.rgb, frame.landmarks) for frame in
                  render(random_actor(seed), performance, random_scene(seed), SIZE)]
    return np.mean([e for e in embeddings if e is not None], axis=0)


def score_pair(swapper: Any, source_seed: int, target_seed: int, gallery: dict[str, Any],
               encoder: Any, photo_detector: Any, preview: Path) -> Result:
    from doppel.faces import open_detector
    from doppel.faces.landmarks import points68_from_mediapipe
    from doppel.metrics import ClipScores, landmark_nme
    from doppel.metrics.face import placed_nme
    from doppel.synth import (Clip, generate_performance, random_actor, random_scene,
                              render_clip, render_swap_truth)

    source_actor = random_actor(source_seed)
    source_rgb, source = source_photo(source_seed, photo_detector)
    clip = Clip(random_actor(target_seed),
                generate_performance(SECONDS, FPS, target_seed, max_yaw=30.0),
                random_scene(target_seed), (SIZE, SIZE))
    scores = ClipScores(gallery, source=str(source_seed), target=str(target_seed))
    shown, floor, placed = None, [], []
    with open_detector("mediapipe", static=False) as target_detector, \
            open_detector("mediapipe", static=False) as output_detector, \
            open_detector("mediapipe", static=False) as truth_detector:
        for target, truth in zip(render_clip(clip), render_swap_truth(source_actor, clip),
                                 strict=True):
            faces = target_detector.detect(target.rgb)
            output = swapper.swap_frame(target.rgb, faces[0], source) if faces \
                else target.rgb.copy()
            detected = output_detector.detect(output)
            face = detected[0] if detected else None
            embedding = encoder.embed(output, face.landmarks) if face is not None else None
            scores.add(output, truth, face, embedding)
            placed.append(placed_nme(points68_from_mediapipe(target.landmarks),
                                     points68_from_mediapipe(truth.landmarks)))
            on_truth = truth_detector.detect(truth.rgb)
            if on_truth:  # the detector's own error: the floor of the expression error
                floor.append(landmark_nme(on_truth[0].points68,
                                          points68_from_mediapipe(truth.landmarks))["all"])
            if target.index == PREVIEW_FRAME:
                shown = np.concatenate([source_rgb, target.rgb, output, truth.rgb], axis=1)
    if shown is not None:
        write_preview(preview, shown)
    result = {key: float(value) for key, value in scores.summary().items()}
    result["nme_floor"] = float(np.median(floor)) if floor else float("nan")
    # The truth's face placed as the target's: the floor of nme_all for swappers that keep
    # the target's placement (doppel.metrics.face.placed_nme).
    result["nme_placed"] = float(np.median(placed)) if placed else float("nan")
    return result


def source_photo(seed: int, photo_detector: Any) -> tuple[np.ndarray, Any]:
    """The source picture a swapper gets: the actor frontal and neutral in its own scene
    (another light and background than the target's, as a user's source photo would be),
    and the swapper's source prepared from the face the detector found on it."""
    from doppel.errors import DoppelError
    from doppel.swap import prepare_source
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    frame = next(render(random_actor(seed), neutral_performance(1, FPS), random_scene(seed),
                        SIZE))
    found = photo_detector.detect(frame.rgb)
    if not found:
        raise DoppelError(f"no face found on source actor {seed}'s picture")
    return frame.rgb, prepare_source(frame.rgb, found[0].landmarks)


def write_preview(path: Path, rgb: np.ndarray) -> None:
    from doppel.media import write_image
    from doppel.provenance import LabelConfig, Watermarker, mark_frame, new_watermark_id

    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, mark_frame(rgb, Watermarker(new_watermark_id()),
                                 LabelConfig(visible_label=False)))


def finite_mean(values: list[float | None]) -> float | None:
    """The mean of the values that are numbers (not None, not nan), None if there are none."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return statistics.fmean(finite) if finite else None


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def format_table(results: Result) -> str:
    machine = results["machine"]
    widths = [max(14, len(key) + 2) for key in KEYS]
    header = f"{'pair':13}" + "".join(f"{key:>{width}}" for key, width in zip(KEYS, widths))
    lines = [f"quality --swapper {results['swapper']}: {machine['cpu']}, {machine['cores']} "
             "cores", "", header]

    def row(name: str, scores: Result) -> str:
        return f"{name:13}" + "".join(f"{_fmt(scores[key]):>{width}}"
                                      for key, width in zip(KEYS, widths))

    for pair in results["pairs"]:
        lines.append(row(f"{pair['source']}->{pair['target']}", pair["scores"]))
    lines.append(row("mean", results["mean"]))
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    lines = markdown_heading(f"quality ({results['swapper']})", results["machine"],
                             "mediapipe 0.10.14, dlib 20.0.1", results["wall_seconds"])
    lines += ["| pair | " + " | ".join(KEYS) + " |", "|---|" + "---:|" * len(KEYS)]
    for pair in results["pairs"]:
        lines.append(f"| {pair['source']} -> {pair['target']} | "
                     + " | ".join(_fmt(pair["scores"][key]) for key in KEYS) + " |")
    lines.append("| mean | " + " | ".join(_fmt(results["mean"][key]) for key in KEYS) + " |")
    return "\n".join(lines) + "\n"
