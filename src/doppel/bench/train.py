"""The training-speed benchmark ("Train" issue): images/s of every architecture and preset,
with and without bf16 autocast, a faceswap-`original`-shaped network through the same step
for scale, and `doppel train` end to end on two small facesets.

- Network step: one training step as the trainer takes it (both sides' batches of 32 faces, the
  fastest batch here, through the network in one pass, the trainer's loss, backward,
  Adam), channels_last, denormals flushed, on random pictures; images/s counts both sides.
  Warm-up steps first, then timed steps (fewer for the slow combinations; the count is in
  the results). On the device `--device` picks (auto: a GPU when there is one); on a GPU
  every preset is timed with and without bf16 and with more steps.
- faceswap `original`, shaped as its defaults (64 px; encoder 5x5 convolutions 128-256-512-
  1024, dense 1024, 4x4x1024 and an upscale to 512; decoders 256-128-64): ~82M parameters,
  the peer's CPU reference (7.1 images/s in faceswap itself here, 10 in plain PyTorch).
- End to end: `doppel train` with the tiny preset on two 24-face facesets of synthetic
  actors (alignment from their true landmarks), augmentation and logging included, 60
  steps, at 32 faces a side (the most images a second) and at the default 16 (fewer images
  a second, twice the steps: what the quality benchmark favours); the bar, >= 150 images/s,
  is the trainer's speed: taken at 32, the median of three runs (one run varies by ~10 %
  on this VM from one minute to the next).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from doppel.bench import BenchConfig
from doppel.bench._report import machine_facts, markdown_heading, progress_printer, write_results
from doppel.runtime import Runtime, apply_threads, keep_freed_memory, resolve_device

Result = dict[str, Any]

BATCH = 32  # faces a side: the most images a second on 2 CPU cores (the default is 16)
TINY_BAR = 150.0
END_TO_END_STEPS, QUICK_END_TO_END_STEPS = 60, 10
END_TO_END_RUNS = 3  # at 32 a side, for the bar: the median counts
# (warm-up, timed) steps per case; slow cases get fewer.
STEPS = {"tiny": (2, 8), "base": (1, 3), "hq": (1, 2), "original": (1, 3)}
BF16_STEPS = (1, 1)
GPU_STEPS = (5, 30)


def run(config: BenchConfig, runtime: Runtime) -> None:
    import torch

    apply_threads(runtime.threads)
    keep_freed_memory()  # as `doppel train` does
    torch.set_flush_denormal(True)
    device = resolve_device(runtime.device)
    say = progress_printer("train", runtime)
    started = time.perf_counter()
    results: Result = {"suite": "train", "machine": machine_facts("train", config.quick),
                       "device": device_name(device), "batch_per_side": BATCH,
                       "networks": []}
    # End to end first, in a process that has built nothing bigger, as `doppel train` runs:
    # after base and hq had taken their gigabytes here, tiny ran ~10 % slower end to end
    # (alternated in one session: 135-158 images/s against 147-168 in a fresh process).
    steps = QUICK_END_TO_END_STEPS if config.quick else END_TO_END_STEPS
    with tempfile.TemporaryDirectory(prefix="doppel-bench-train-facesets-") as work:
        facesets = (make_training_faceset(Path(work) / "source", 0),
                    make_training_faceset(Path(work) / "target", 1))
        runs = []
        for run_index in range(1 if config.quick else END_TO_END_RUNS):
            say(f"doppel train end to end (tiny, {BATCH} faces a side), run {run_index + 1}")
            runs.append(time_end_to_end(steps, device=device, facesets=facesets, batch=BATCH))
        runs.sort(key=lambda run: run["images_per_second"])
        results["end_to_end"] = {**runs[len(runs) // 2],
                                 "runs": [run["images_per_second"] for run in runs]}
        say("doppel train end to end (tiny, default batch)")
        results["end_to_end_default"] = time_end_to_end(steps, device=device,
                                                        facesets=facesets)
    presets = ("tiny",) if config.quick else ("tiny", "base", "hq")
    for preset in presets:
        for architecture in ("df", "liae"):
            for bf16 in (False, True):
                if bf16 and preset == "hq" and device == "cpu":
                    continue  # minutes a step on a CPU: hq is the GPU preset
                say(f"{architecture} {preset}{' bf16' if bf16 else ''}")
                results["networks"].append(time_network(architecture, preset, bf16, device))
    if not config.quick:
        say("faceswap original-shaped network")
        results["original"] = time_network("original", "original", False, device)
    tiny = next(row for row in results["networks"]
                if row["preset"] == "tiny" and row["architecture"] == "df" and not row["bf16"])
    if "original" in results:
        results["tiny_over_original"] = tiny["images_per_second"] / \
            results["original"]["images_per_second"]
    results["bar"] = {"name": f"tiny end to end, {BATCH} a side",
                      "value": results["end_to_end"]["images_per_second"],
                      "limit": f">= {TINY_BAR:g}",
                      "pass": results["end_to_end"]["images_per_second"] >= TINY_BAR}
    results["wall_seconds"] = time.perf_counter() - started
    print(format_table(results))
    write_results("train", results, format_markdown(results), config.output)


def device_name(device: str) -> str:
    """The device in words, for the results: "cpu", or the GPU's name."""
    if device != "cuda":
        return device
    import torch

    return f"cuda: {torch.cuda.get_device_name()}"


def time_network(architecture: str, preset: str, bf16: bool, device: str = "cpu") -> Result:
    import torch

    from doppel.train.losses import LossOptions
    from doppel.train.models import PRESETS, ModelOptions, build_model, count_parameters
    from doppel.train.trainer import reconstruction_loss

    torch.manual_seed(0)
    if architecture == "original":
        model, resolution = original_shaped(), 64
    else:
        model = build_model(ModelOptions(architecture, preset))
        resolution = PRESETS[preset].resolution
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999), fused=True)
    pictures = {side: torch.rand(BATCH, 3, resolution, resolution, device=device).contiguous(
        memory_format=torch.channels_last) for side in ("source", "target")}
    masks = {side: torch.ones(BATCH, 2, resolution, resolution, device=device)
             for side in pictures}
    options = LossOptions()

    def step() -> None:
        total, _, _ = reconstruction_loss(model, pictures, pictures, masks, options, bf16)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    warm, timed = GPU_STEPS if device != "cpu" else BF16_STEPS if bf16 else STEPS[preset]
    for _ in range(warm):
        step()
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(timed):
        step()
    _synchronize(device)
    seconds = time.perf_counter() - started
    return {"architecture": architecture, "preset": preset, "bf16": bf16,
            "resolution": resolution, "parameters": count_parameters(model),
            "steps": timed, "images_per_second": 2 * BATCH * timed / seconds}


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def time_end_to_end(steps: int, preset: str = "tiny", device: str = "cpu",
                    facesets: tuple[Path, Path] | None = None, batch: int | None = None
                    ) -> Result:
    """`doppel train` for `steps` steps on two small facesets (made here unless `facesets`
    gives a source and a target), at `batch` faces a side (None: the default)."""
    from doppel.train.trainer import TrainConfig, train

    with tempfile.TemporaryDirectory(prefix="doppel-bench-train-") as work:
        folder = Path(work)
        source, target = facesets or tuple(
            make_training_faceset(folder / side, index)
            for side, index in (("source", 0), ("target", 1)))
        config = TrainConfig(source=source, target=target, output=folder / "model",
                             preset=preset, steps=steps, save_every=10 * steps,
                             preview_every=10 * steps)
        if batch is not None:
            config = replace(config, batch=batch)
        summary = train(config, Runtime(device=device, progress=False))
    return {"preset": preset, "steps": steps, "batch": config.batch,
            "seconds": summary.seconds, "images_per_second": summary.images_per_second}


IDENTITY_FRAMES = 5
TRAINING_PERFORMANCE = 104729  # added to an actor's seed for its training performance


def make_training_faceset(folder: Path, pool_index: int, faces: int = 24, size: int = 128,
                          consent: bool = True, identity: bool = True) -> Path:
    """A faceset of `faces` frames of one pool actor at `size` px, aligned from its true
    landmarks (no detector: fast, and the faces are where the truth says); with a synthetic
    consent record unless `consent` is False, and the track's identity (dlib, the mean of
    IDENTITY_FRAMES frames, as extract samples it) unless `identity` is False."""
    import numpy as np

    from doppel.faces.identity import IdentityEncoder

    from doppel.faces.align import align_face
    from doppel.faces.landmarks import points68_from_mediapipe
    from doppel.faces.masks import face_hull_mask
    from doppel.faceset import FaceRecord, open_faceset
    from doppel.synth import generate_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS
    from doppel.types import Consent

    seed = POOL_SEEDS[pool_index]
    with open_faceset(folder, create=True) as faceset:
        if consent:
            faceset.add_consent(Consent(f"actor-{seed}", "synthetic identity, no real person",
                                        "2026-11-26", "synthetic"))
        # Another performance than the quality suite's clips (seeded by the actor's seed):
        # a model must never have trained on the frames it is scored on.
        performance = generate_performance(faces / 10.0, 10.0, seed + TRAINING_PERFORMANCE,
                                           max_yaw=30.0)
        encoder = IdentityEncoder() if identity else None
        embeddings = []
        for frame in render(random_actor(seed), performance, random_scene(seed), 256):
            if encoder is not None and len(embeddings) < IDENTITY_FRAMES:
                embeddings.append(encoder.embed(frame.rgb, frame.landmarks))
            points68 = points68_from_mediapipe(frame.landmarks)
            aligned = align_face(frame.rgb, points68, size, "whole-face")
            faceset.add(FaceRecord(
                source_path=Path(f"actor-{seed}.mp4"), source_hash=f"{seed:064x}",
                frame=frame.index, pts=None, box=(0.0, 0.0, 1.0, 1.0),
                landmarks=frame.landmarks.astype(np.float32), points68=points68,
                matrix=aligned.matrix, size=size, coverage="whole-face", pose=frame.pose,
                blur=100.0, score=1.0, track=0, crop=aligned.image,
                mask=face_hull_mask(aligned.points68, (size, size), forehead=True)))
        found = [embedding for embedding in embeddings if embedding is not None]
        if found:
            faceset.set_track_embedding(f"{seed:064x}", 0, np.mean(found, axis=0), len(found))
    return folder


def original_shaped() -> Any:
    """A network shaped like faceswap's `original` model at its defaults (not its code):
    for scale only, never trained to use."""
    from torch import nn

    from doppel.train.models import Decoder, Shape

    class Original(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            act = nn.LeakyReLU(0.1, inplace=True)
            layers: list[nn.Module] = []
            for channels_in, channels_out in ((3, 128), (128, 256), (256, 512), (512, 1024)):
                layers += [nn.Conv2d(channels_in, channels_out, 5, 2, 2), act]
            self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 4 * 1024, 1024),
                                         nn.Linear(1024, 4 * 4 * 1024),
                                         nn.Unflatten(1, (1024, 4, 4)),
                                         nn.Conv2d(1024, 512 * 4, 3, 1, 1), act,
                                         nn.PixelShuffle(2))
            shape = Shape(64, (128, 256, 512, 1024), 1024, 512, (256, 128, 64))
            self.decoders = nn.ModuleDict({side: Decoder(shape, 512)
                                           for side in ("source", "target")})

        def reconstruct_both(self, source: Any, target: Any) -> Any:
            import torch

            codes = self.encoder(torch.cat([source, target])).split([len(source),
                                                                     len(target)])
            return tuple(self.decoders[side](code)
                         for side, code in zip(("source", "target"), codes))

    return Original()


def format_table(results: Result) -> str:
    machine = results["machine"]
    lines = [f"train: {machine['cpu']}, {machine['cores']} cores, "
             f"{results.get('device', 'cpu')}, {results['batch_per_side']} faces a side per step",
             "",
             f"  {'network':22} {'params':>8} {'images/s':>9}"]
    rows = list(results["networks"]) + ([results["original"]] if "original" in results else [])
    for row in rows:
        name = f"{row['architecture']} {row['preset']}{' bf16' if row['bf16'] else ''}"
        lines.append(f"  {name:22} {row['parameters'] / 1e6:7.2f}M "
                     f"{row['images_per_second']:9.1f}")
    for key in ("end_to_end", "end_to_end_default"):
        end = results[key]
        lines.append(f"  doppel train tiny end to end, {end['batch']} a side: "
                     f"{end['images_per_second']:.1f} images/s ({end['steps']} steps"
                     f"{_runs(end)})")
    if "tiny_over_original" in results:
        lines.append(f"  tiny network / faceswap-original-shaped: "
                     f"{results['tiny_over_original']:.1f}x")
    bar = results["bar"]
    lines.append(f"  bar: {bar['name']} {bar['value']:.1f} {bar['limit']} "
                 f"{'PASS' if bar['pass'] else 'FAIL'}")
    return "\n".join(lines)


def format_markdown(results: Result) -> str:
    import torch

    lines = markdown_heading("train", results["machine"],
                             f"torch {torch.__version__}, {results.get('device', 'cpu')}",
                             results["wall_seconds"])
    lines += ["| network | resolution | parameters | bf16 | images/s (both sides) |",
              "|---|---:|---:|---|---:|"]
    rows = list(results["networks"]) + ([results["original"]] if "original" in results else [])
    for row in rows:
        lines.append(f"| {row['architecture']} {row['preset']} | {row['resolution']} | "
                     f"{row['parameters'] / 1e6:.2f}M | {'yes' if row['bf16'] else 'no'} | "
                     f"{row['images_per_second']:.1f} |")
    end, default = results["end_to_end"], results["end_to_end_default"]
    lines += ["", f"`doppel train` tiny end to end ({end['steps']} steps, augmentation and "
              f"logging included) at {end['batch']} faces a side: "
              f"{end['images_per_second']:.1f} images/s{_runs(end)} (bar >= {TINY_BAR:g}: "
              f"{'pass' if results['bar']['pass'] else 'fail'}); at the default "
              f"{default['batch']}: {default['images_per_second']:.1f} images/s."]
    if "tiny_over_original" in results:
        lines.append(f"tiny / faceswap-original-shaped network: "
                     f"{results['tiny_over_original']:.1f}x.")
    return "\n".join(lines) + "\n"


def _runs(end: Result) -> str:
    """", median of 3 runs: a, b, c" where a result is the median of several runs."""
    runs = end.get("runs", [])
    if len(runs) < 2:
        return ""
    return f", median of {len(runs)} runs: " + ", ".join(f"{rate:.1f}" for rate in runs)
