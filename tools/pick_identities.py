"""Pick the identity pool: render many candidate actors, keep a spread-out set by dlib embedding
distance, and write their seeds to src/doppel/synth/pool.py (committed, so the benchmark
suite's identities are fixed).

Each candidate is embedded on a few frames of its own performance (a different performance
seed from the one `doppel bench identity` uses, so the pool is not picked on the frames it is
scored on); its identity is the mean embedding. Greedy farthest-point selection: start from
the candidate farthest on average from all others, then repeatedly add the candidate whose
nearest chosen actor is farthest away.

    .venv/bin/python tools/pick_identities.py [--candidates 160] [--keep 60]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from doppel.faces.identity import IdentityEncoder
from doppel.synth import generate_performance, random_actor, random_scene, render

FIRST_CANDIDATE = 3000
PERFORMANCE_SALT = 0x5EED  # candidates are scored on other frames than the benchmark's
FRAMES, FPS, SIZE, MAX_YAW = 5, 2.5, 256, 25.0
POOL_FILE = Path(__file__).resolve().parents[1] / "src" / "doppel" / "synth" / "pool.py"


def mean_embedding(seed: int, encoder: IdentityEncoder) -> np.ndarray | None:
    performance = generate_performance(FRAMES / FPS, FPS, seed ^ PERFORMANCE_SALT,
                                       max_yaw=MAX_YAW)
    embeddings = [encoder.embed(frame.rgb, frame.landmarks)
                  for frame in render(random_actor(seed), performance, random_scene(seed), SIZE)]
    found = [e for e in embeddings if e is not None]
    return np.mean(found, axis=0) if found else None


def farthest_points(means: np.ndarray, keep: int) -> list[int]:
    distances = np.linalg.norm(means[:, None] - means[None], axis=2)
    chosen = [int(np.argmax(distances.mean(axis=1)))]
    nearest = distances[chosen[0]].copy()
    while len(chosen) < keep:
        nearest[chosen] = -1.0
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, distances[pick])
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=160)
    parser.add_argument("--keep", type=int, default=60)
    args = parser.parse_args()
    encoder, started = IdentityEncoder(), time.perf_counter()
    seeds, means = [], []
    for index, seed in enumerate(range(FIRST_CANDIDATE, FIRST_CANDIDATE + args.candidates)):
        mean = mean_embedding(seed, encoder)
        if mean is not None:
            seeds.append(seed)
            means.append(mean)
        if index % 20 == 19:
            print(f"{index + 1}/{args.candidates} candidates, {time.perf_counter() - started:.0f} s")
    chosen = farthest_points(np.array(means), args.keep)
    pool = [seeds[i] for i in chosen]
    picked = np.array(means)[chosen]
    gaps = np.linalg.norm(picked[:, None] - picked[None], axis=2)[np.triu_indices(len(pool), 1)]
    everyone = np.linalg.norm(np.array(means)[:, None] - np.array(means)[None], axis=2)
    print(f"pool of {len(pool)}: closest pair {gaps.min():.3f}, median pair {np.median(gaps):.3f}"
          f" (all candidates: median {np.median(everyone[np.triu_indices(len(seeds), 1)]):.3f})")
    lines = "\n".join("    " + ", ".join(str(seed) for seed in pool[i:i + 10]) + ","
                      for i in range(0, len(pool), 10))
    POOL_FILE.write_text(
        '"""The identity pool: synthetic actors a face recogniser tells apart (made by\n'
        f'tools/pick_identities.py from {args.candidates} candidates; closest pair of mean dlib '
        f'embeddings\n{gaps.min():.3f}, median pair {np.median(gaps):.3f}). Benchmarks and '
        '`doppel synth` take actors from here first."""\n\n'
        f"POOL_SEEDS = (\n{lines}\n)\n")
    print(f"wrote {POOL_FILE}")


if __name__ == "__main__":
    main()
