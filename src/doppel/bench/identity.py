"""The identity benchmark: does a real face-recognition model tell the synthetic actors apart,
and does it recognise each one across its own frames?

What is measured ("Synthetic actors II"):

Actors: 50 (--quick: 10), the first seeds of the committed identity pool
(`doppel.synth.pool.POOL_SEEDS`, picked by tools/pick_identities.py on other frames); each in its own `random_scene(seed)` performing `generate_performance(4.0, 5.0,
seed, max_yaw=30.0)` (20 frames; --quick: 10 frames, 2 s), rendered at 256x256. Every frame with |yaw| <= 30 is embedded with dlib's ResNet
(`doppel.faces.identity.IdentityEncoder`), the face box coming from the true landmarks.

Each actor's embedded frames are split in order: the first half enrols (their mean is the
actor's mean embedding), the second half is held out.
- Top-1 retrieval: share of held-out frames whose nearest actor mean (Euclidean) is their own
  actor's. Bar: >= 95 %.
- Same-actor distance: median of held-out frame to own mean, and of all frame-to-frame pairs
  within an actor. Different-actor distance: median of held-out frame to every other actor's
  mean, and of all frame-to-frame pairs across actors. Real people give < 0.4 same and > 0.6
  different (dlib's same-person threshold is 0.6): reported against those targets, not judged.
  Also reported: the share of pairs dlib would call the same person (< 0.6).
- The closest pairs of actors by the distance between their mean embeddings (all frames).
- Time: rendering and embedding, seconds and ms per frame.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.bench import BenchConfig
from doppel.bench._report import (Say, bar_lines, bar_table, machine_facts, markdown_heading,
                                  progress_printer, write_results)
from doppel.faces.identity import SAME_PERSON_DISTANCE, IdentityEncoder
from doppel.runtime import Runtime, apply_threads
from doppel.synth import generate_performance, random_actor, random_scene, render

# Measured once on the --quick set (10 actors x 10 frames): 384 px gave same/different medians
# 0.160/0.427 against 0.168/0.438 at 256 and the same top-1 (100 %); no gain for 2.25x the pixels.
SIZE = 256
SEED_BASE = 2000
ACTORS, FRAMES, QUICK_ACTORS, QUICK_FRAMES = 50, 20, 10, 10
FPS = 5.0
MAX_YAW = 30.0
TOP1_BAR = 0.95
SAME_TARGET, DIFFERENT_TARGET = 0.4, SAME_PERSON_DISTANCE
CLOSEST_PAIRS = 10

Result = dict[str, Any]
Embeddings = npt.NDArray[np.float32]


def run(config: BenchConfig, runtime: Runtime) -> None:
    apply_threads(runtime.threads)
    say = progress_printer("identity", runtime)
    actors, frames = (QUICK_ACTORS, QUICK_FRAMES) if config.quick else (ACTORS, FRAMES)
    started = time.perf_counter()
    results: Result = {"suite": "identity", "machine": describe_machine(config.quick),
                       **measure_identity(pool_seeds(actors), frames, SIZE, say)}
    results["wall_seconds"] = time.perf_counter() - started
    results["bars"] = judge(results)
    print(format_table(results))
    write_results("identity", results, format_markdown(results), config.output)


def pool_seeds(count: int) -> list[int]:
    """The first `count` seeds of the committed identity pool (`doppel.synth.pool`), then
    SEED_BASE.. if more are asked for than the pool holds."""
    from doppel.synth.pool import POOL_SEEDS

    extra = range(SEED_BASE, SEED_BASE + max(0, count - len(POOL_SEEDS)))
    return [*POOL_SEEDS[:count], *extra]


def embed_actor(seed: int, frames: int = FRAMES, size: int = SIZE,
                encoder: IdentityEncoder | None = None) -> Embeddings:
    """float32 (k, 128): the embeddings of actor `seed`'s frames with |yaw| <= MAX_YAW, in
    order, k <= `frames`; the actor in `random_scene(seed)` performing
    `generate_performance(frames / FPS, FPS, seed, max_yaw=MAX_YAW)` at `size` x `size`, the
    face box from the true landmarks. Pass `encoder` to reuse its loaded models."""
    return _embed_actor(seed, frames, size, encoder or IdentityEncoder())[0]


def _embed_actor(seed: int, frames: int, size: int, encoder: IdentityEncoder
                 ) -> tuple[Embeddings, float, float]:
    """The embeddings, and the seconds spent rendering and embedding them."""
    performance = generate_performance(frames / FPS, FPS, seed, max_yaw=MAX_YAW)
    rendered = render(random_actor(seed), performance, random_scene(seed), size)
    embeddings, render_seconds, embed_seconds = [], 0.0, 0.0
    while True:
        started = time.perf_counter()
        frame = next(rendered, None)
        render_seconds += time.perf_counter() - started
        if frame is None:
            break
        if abs(frame.pose[0]) <= MAX_YAW:
            started = time.perf_counter()
            embeddings.append(encoder.embed(frame.rgb, frame.landmarks))
            embed_seconds += time.perf_counter() - started
    stacked = np.stack(embeddings) if embeddings else np.zeros((0, 128), np.float32)
    return stacked, render_seconds, embed_seconds


# -- measuring ---------------------------------------------------------------------------------


def measure_identity(seeds: list[int], frames: int, size: int, say: Say) -> Result:
    encoder = IdentityEncoder()
    say(f"{len(seeds)} actors x {frames} frames at {size}x{size}, |yaw| <= {MAX_YAW:g}")
    embedded: list[Embeddings] = []
    render_seconds = embed_seconds = 0.0
    for number, seed in enumerate(seeds, 1):
        embeddings, rendering, embedding = _embed_actor(seed, frames, size, encoder)
        embedded.append(embeddings)
        render_seconds, embed_seconds = render_seconds + rendering, embed_seconds + embedding
        say(f"actor {seed}: {len(embeddings)} frames embedded ({number}/{len(seeds)})")
    count = sum(len(e) for e in embedded)
    return {"size": [size, size], "actors": len(seeds), "frames_per_actor": frames,
            "seeds": seeds, "max_abs_yaw": MAX_YAW, "frames_embedded": count,
            **score_identity(seeds, embedded),
            "time": {"render_seconds": render_seconds, "embed_seconds": embed_seconds,
                     "render_ms_per_frame": 1e3 * render_seconds / (len(seeds) * frames),
                     "embed_ms_per_frame": 1e3 * embed_seconds / max(count, 1)}}


def score_identity(seeds: list[int], embedded: list[Embeddings]) -> Result:
    """Retrieval against enrolment means, distance statistics and the closest actor pairs."""
    halves = [len(e) // 2 for e in embedded]
    means = np.stack([e[:half].mean(axis=0) for e, half in zip(embedded, halves, strict=True)])
    held = np.concatenate([e[half:] for e, half in zip(embedded, halves, strict=True)])
    owner = np.concatenate([np.full(len(e) - half, i)
                            for i, (e, half) in enumerate(zip(embedded, halves, strict=True))])
    to_means = _distances(held, means)
    nearest = to_means.argmin(axis=1)
    rows = np.arange(len(held))
    same_mean, other_mean = to_means[rows, owner], to_means[owner[:, None] != np.arange(len(seeds))]
    frames = np.concatenate(embedded)
    actor_of = np.concatenate([np.full(len(e), i) for i, e in enumerate(embedded)])
    pairs = _distances(frames, frames)
    upper = np.triu(np.ones_like(pairs, dtype=bool), k=1)
    same_actor = actor_of[:, None] == actor_of[None, :]
    same_pairs, other_pairs = pairs[upper & same_actor], pairs[upper & ~same_actor]
    full_means = np.stack([e.mean(axis=0) for e in embedded])
    return {
        "held_out_frames": len(held),
        "top1": float(np.mean(nearest == owner)),
        "same_to_mean": _summarise(same_mean),
        "same_pairs": _summarise(same_pairs),
        "different_to_mean": _summarise(other_mean),
        "different_pairs": _summarise(other_pairs),
        "same_pairs_called_same": float(np.mean(same_pairs < SAME_PERSON_DISTANCE)),
        "different_pairs_called_same": float(np.mean(other_pairs < SAME_PERSON_DISTANCE)),
        "closest_actors": _closest_pairs(seeds, full_means),
        "per_actor": [{"actor": seed, "frames": len(e),
                       "top1": float(np.mean(nearest[owner == i] == i)),
                       "same_to_mean_median": float(np.median(same_mean[owner == i]))}
                      for i, (seed, e) in enumerate(zip(seeds, embedded, strict=True))],
        "misses": [{"actor": seeds[owner[j]], "nearest": seeds[nearest[j]],
                    "own_distance": float(same_mean[j]),
                    "nearest_distance": float(to_means[j, nearest[j]])}
                   for j in np.flatnonzero(nearest != owner)],
    }


def _distances(a: Embeddings, b: Embeddings) -> npt.NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    squared = (a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :] - 2 * a64 @ b64.T
    return np.sqrt(np.clip(squared, 0, None))


def _summarise(values: npt.NDArray[np.float64]) -> Result:
    return {"count": int(values.size), "median": float(np.median(values)),
            "p10": float(np.percentile(values, 10)), "p90": float(np.percentile(values, 90)),
            "min": float(values.min()), "max": float(values.max())}


def _closest_pairs(seeds: list[int], means: Embeddings) -> list[Result]:
    distances = _distances(means, means)
    first, second = np.triu_indices(len(seeds), k=1)
    order = np.argsort(distances[first, second])[:CLOSEST_PAIRS]
    return [{"actors": [seeds[first[k]], seeds[second[k]]],
             "distance": float(distances[first[k], second[k]])} for k in order]


# -- judging and reporting ---------------------------------------------------------------------


def judge(results: Result) -> list[Result]:
    same, other = results["same_to_mean"]["median"], results["different_to_mean"]["median"]
    return [
        {"name": "top-1", "what": f"held-out frames nearest their own actor's mean "
                                  f"({results['held_out_frames']} frames)",
         "value": results["top1"], "limit": f">= {TOP1_BAR:g}",
         "pass": results["top1"] >= TOP1_BAR},
        {"name": "same median", "what": "held-out frame to own mean (target, real people)",
         "value": same, "limit": f"< {SAME_TARGET:g}", "pass": None},
        {"name": "different median", "what": "held-out frame to other means (target, real people)",
         "value": other, "limit": f"> {DIFFERENT_TARGET:g}", "pass": None},
    ]


def describe_machine(quick: bool) -> Result:
    import dlib

    return {**machine_facts("identity", quick), "numpy": np.__version__, "dlib": dlib.__version__}


def _distance_rows(results: Result) -> list[tuple[str, Result]]:
    return [("same: frame to own mean", results["same_to_mean"]),
            ("same: frame pairs", results["same_pairs"]),
            ("different: frame to other means", results["different_to_mean"]),
            ("different: frame pairs", results["different_pairs"])]


def format_table(results: Result) -> str:
    machine, spent = results["machine"], results["time"]
    lines = [
        f"identity: {machine['cpu']}, {machine['cores']} cores, dlib {machine['dlib']}",
        "",
        f"{results['actors']} actors x {results['frames_per_actor']} frames at "
        f"{results['size'][0]}x{results['size'][1]} (seeds {results['seeds'][0]}-"
        f"{results['seeds'][-1]}), {results['frames_embedded']} frames with |yaw| <= "
        f"{results['max_abs_yaw']:g} embedded; top-1 {results['top1']:.1%} over "
        f"{results['held_out_frames']} held-out frames",
        f"  {'distance':<32} {'count':>7} {'median':>7} {'p10':>6} {'p90':>6} {'min':>6} "
        f"{'max':>6}",
    ]
    for label, row in _distance_rows(results):
        lines.append(f"  {label:<32} {row['count']:>7} {row['median']:>7.3f} {row['p10']:>6.3f} "
                     f"{row['p90']:>6.3f} {row['min']:>6.3f} {row['max']:>6.3f}")
    lines += [
        f"  pairs dlib calls the same person (< {SAME_PERSON_DISTANCE:g}): same actor "
        f"{results['same_pairs_called_same']:.1%}, different actors "
        f"{results['different_pairs_called_same']:.1%}",
        "  closest actors (mean embeddings): " + ", ".join(
            f"{a}-{b} {row['distance']:.3f}" for row in results["closest_actors"]
            for a, b in [row["actors"]]),
        f"  misses: {len(results['misses'])}" + "".join(
            f"; {m['actor']}->{m['nearest']} ({m['own_distance']:.3f} vs "
            f"{m['nearest_distance']:.3f})" for m in results["misses"][:10]),
        f"  time: render {spent['render_seconds']:.1f} s ({spent['render_ms_per_frame']:.1f} "
        f"ms/frame), embed {spent['embed_seconds']:.1f} s ({spent['embed_ms_per_frame']:.1f} "
        f"ms/frame); wall {results['wall_seconds']:.1f} s",
        "", "bars",
    ]
    lines += bar_lines(results["bars"])
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    machine, spent = results["machine"], results["time"]
    lines = [
        *markdown_heading("identity", machine, f"numpy {machine['numpy']}, dlib {machine['dlib']}",
                          results["wall_seconds"]),
        *bar_table(results["bars"]),
        "",
        f"{results['actors']} actors x {results['frames_per_actor']} frames at "
        f"{results['size'][0]}x{results['size'][1]} (seeds {results['seeds'][0]}-"
        f"{results['seeds'][-1]}); {results['frames_embedded']} frames with abs yaw <= "
        f"{results['max_abs_yaw']:g} embedded with dlib's ResNet, box from the true landmarks. "
        "First half of each actor's frames enrols (mean embedding), second half is held out.",
        "",
        "| distance | count | median | p10 | p90 | min | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {label} | {row['count']} | {row['median']:.3f} | {row['p10']:.3f} "
          f"| {row['p90']:.3f} | {row['min']:.3f} | {row['max']:.3f} |"
          for label, row in _distance_rows(results)),
        "",
        f"Pairs dlib calls the same person (< {SAME_PERSON_DISTANCE:g}): same actor "
        f"{results['same_pairs_called_same']:.1%}, different actors "
        f"{results['different_pairs_called_same']:.1%}.",
        "",
        "Closest actors by mean embedding: " + ", ".join(
            f"{row['actors'][0]}-{row['actors'][1]} {row['distance']:.3f}"
            for row in results["closest_actors"]) + ".",
        "",
        f"Time: render {spent['render_seconds']:.1f} s ({spent['render_ms_per_frame']:.1f} "
        f"ms/frame), embed {spent['embed_seconds']:.1f} s ({spent['embed_ms_per_frame']:.1f} "
        "ms/frame).",
    ]
    return "\n".join(lines) + "\n"
