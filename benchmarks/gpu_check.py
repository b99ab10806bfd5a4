"""The trainer and the model swapper on a CUDA GPU: does it all work there, and how fast.

CI has no GPU, so this runs by hand on a machine with one. That machine needs torch with
CUDA, numpy, OpenCV, Pillow, safetensors, scipy, tqdm, threadpoolctl and PyAV; not
mediapipe, dlib or c2pa, because the facesets are made beforehand where doppel is fully
installed:

    .venv/bin/python benchmarks/gpu_check.py prepare DIR      # here: two 64-face facesets
    PYTHONPATH=src python3 benchmarks/gpu_check.py run DIR OUT  # there: OUT/gpu.json

`run` checks, each part on its own so that one failure leaves the others' numbers:
- `doppel train` from the command line on the GPU (base preset, a few steps);
- for tiny and hq: 20 steps in one run against 10 + 10 resumed (largest weight difference),
  previews written, and the model swapper's `draw` per face on the GPU;
- `doppel train` end to end per preset (100 steps), and with one batch-making thread
  instead of the default (doppel.train.feed) for tiny and hq;
- the network step of every preset and architecture, float32 and bf16, and a
  faceswap-`original`-shaped network (doppel.bench.train.time_network).
The tiny model trained there is copied to OUT, to check here that a GPU-trained model
swaps on a CPU.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

FACES = 64  # a side
SIZE = 256  # crop pixels: hq trains at 256
E2E_STEPS = 100


def prepare(folder: Path) -> None:
    from doppel.bench.train import make_training_faceset

    for side, index in (("source", 0), ("target", 1)):
        make_training_faceset(folder / side, index, faces=FACES, size=SIZE)


def run(folder: Path, out: Path) -> None:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)
    facesets = (folder / "source", folder / "target")
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(),
                               "torch": torch.__version__}
    parts = {"cli": lambda: _cli(facesets), "resume_and_swap": lambda: _resume_and_swap(
        facesets, out), "end_to_end": lambda: _end_to_end(facesets), "networks": _networks}
    for name, part in parts.items():
        started = time.perf_counter()
        try:
            results[name] = part()
        except Exception:  # a report, not a program: keep going, say what broke
            results[name] = {"error": traceback.format_exc()}
        print(f"== {name} ({time.perf_counter() - started:.1f} s): "
              f"{json.dumps(results[name], default=str)[:1500]}", flush=True)
        (out / "gpu.json").write_text(json.dumps(results, indent=1, default=str))


def _cli(facesets: tuple[Path, Path]) -> dict[str, Any]:
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "doppel", "train", "--source", str(facesets[0]), "--target",
         str(facesets[1]), "-o", "/tmp/doppel-gpu-check/cli", "--steps", "30", "--preset",
         "base"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": "src:" + os.environ.get("PYTHONPATH", "")})
    return {"rc": done.returncode, "out": done.stdout[-800:], "err": done.stderr[-1500:]}


def _resume_and_swap(facesets: tuple[Path, Path], out: Path) -> dict[str, Any]:
    import numpy as np
    import torch
    from safetensors.numpy import load_file

    from doppel.runtime import Runtime
    from doppel.swap.model import ModelSwapper
    from doppel.train.checkpoint import MODEL_FILE
    from doppel.train.trainer import TrainConfig, train

    results: dict[str, Any] = {}
    work = Path("/tmp/doppel-gpu-check")
    gpu = Runtime(device="cuda", progress=False)
    for preset in ("tiny", "hq"):
        whole, parts = work / f"{preset}-whole", work / f"{preset}-parts"
        settings: dict[str, Any] = dict(source=facesets[0], target=facesets[1], preset=preset,
                                        save_every=10 ** 6, preview_every=10)
        straight = train(TrainConfig(output=whole, steps=20, **settings), gpu)
        train(TrainConfig(output=parts, steps=10, **settings), gpu)
        resumed = train(TrainConfig(output=parts, steps=20, **settings), gpu)
        a, b = load_file(whole / MODEL_FILE), load_file(parts / MODEL_FILE)
        results[preset] = {
            "loss_straight": straight.loss, "loss_resumed": resumed.loss,
            "max_weight_difference": max(float(np.abs(a[k] - b[k]).max()) for k in a),
            "previews": sorted(p.name for p in (whole / "previews").iterdir())}
        swapper = ModelSwapper(whole, device="cuda")
        crop = np.random.default_rng(0).integers(0, 256, (swapper.resolution,) * 2 + (3,),
                                                  dtype=np.uint8)
        for _ in range(5):
            swapper.draw(crop)
        started = time.perf_counter()
        for _ in range(50):
            swapper.draw(crop)  # returns numpy: synchronised
        results[preset]["draw_ms"] = (time.perf_counter() - started) / 50 * 1000
        torch.cuda.empty_cache()
    shutil.copy(work / "tiny-whole" / MODEL_FILE, out / "tiny-model.safetensors")
    shutil.copy(work / "tiny-whole" / "model.json", out / "tiny-model.json")
    shutil.copy(sorted((work / "hq-whole" / "previews").iterdir())[-1], out / "hq-preview.png")
    return results


def _end_to_end(facesets: tuple[Path, Path]) -> list[dict[str, Any]]:
    import doppel.train.feed as feed
    from doppel.bench.train import time_end_to_end

    rows = [time_end_to_end(E2E_STEPS, preset, "cuda", facesets)
            for preset in ("tiny", "base", "hq")]
    default = feed.feed_workers
    feed.feed_workers = lambda device_type: 1  # the trainer looks it up at each run
    try:
        for preset in ("tiny", "hq"):
            rows.append({**time_end_to_end(E2E_STEPS, preset, "cuda", facesets), "workers": 1})
    finally:
        feed.feed_workers = default
    return rows


def _networks() -> list[dict[str, Any]]:
    from doppel.bench.train import time_network

    rows = [time_network(architecture, preset, bf16, "cuda")
            for preset in ("tiny", "base", "hq") for architecture in ("df", "liae")
            for bf16 in (False, True)]
    return rows + [time_network("original", "original", bf16, "cuda") for bf16 in (False, True)]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "run":
        run(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
