"""The training loop: two facesets in, a model directory out (weights, description, previews,
log), resumable to the step.

Each step takes a batch of each side, warps it (doppel.train.augment), and teaches the
network to rebuild each side's faces with that side's decoder; the loss counts the face (more
the eyes and mouth) and the predicted mask. Every `save_every` steps, at the end of a budget
and on Ctrl-C the model is saved (doppel.train.checkpoint: atomic, no pickle for weights);
every `preview_every` steps a labelled preview grid shows the same faces rebuilt and swapped.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from doppel.errors import DoppelError
from doppel.faces.align import Coverage
from doppel.runtime import Runtime
from doppel.train.augment import AugmentOptions
from doppel.train.choices import Architecture, Precision, Preset
from doppel.train.data import TrainingFaces
from doppel.train.losses import LossOptions

log = logging.getLogger("doppel.train")

LOG_FILE = "log.jsonl"
PREVIEW_DIR = "previews"
PREVIEW_FACES = 4  # faces of each side in the preview grid, the same ones all run long
PREVIEW_TILE = 128  # pixels a preview face is shown at (the watermark needs room)
SIDES = ("source", "target")


@dataclass(frozen=True)
class TrainConfig:
    """`doppel train`: what to learn from, into where, for how long."""

    source: Path = field(metadata={"help": "faceset of the face to insert"})
    target: Path = field(metadata={"help": "faceset of the person to be replaced"})
    output: Path = field(metadata={"help": "model directory (created, or resumed if it holds "
                                           "a model)", "short": "-o"})
    architecture: Architecture = field(default="df", metadata={
        "help": "df: a decoder per identity; liae: one decoder, shared + target-only codes"})
    preset: Preset = field(default="tiny", metadata={
        "help": "tiny: 64 px, CPU-first; base: 128 px; hq: 256 px, for a GPU"})
    # face, not the facesets' whole-face: the tighter crop gives eyes, nose and mouth 1.6x
    # the pixels of a 64-px model, and in 15 minutes on 2 cores put the source's identity on
    # the target sooner (distance to the source 0.506 against 0.551 at 4e-4; BENCHMARKS.md).
    coverage: Coverage = field(default="face", metadata={
        "help": "what the model's crops show (face, whole-face, head): cut from the facesets' "
                "crops, which must show at least as much"})
    steps: int = field(default=0, metadata={
        "help": "stop after this many steps in all (0: no step limit)", "min": 0})
    minutes: float = field(default=0.0, metadata={
        "help": "stop after this many minutes of this run (0: no time limit; with neither, "
                "train until Ctrl-C)", "min": 0.0})
    # 16, not the 32 that takes the most images a second (~1.2x on 2 CPU cores): twice the
    # steps in the same minutes carried the source's identity further (tiny at face coverage
    # and 4e-4, distance to the source at 10 minutes 0.429 against 0.505; BENCHMARKS.md).
    batch: int = field(default=16, metadata={"help": "faces of each side per step", "min": 1})
    # 4e-4, not the peers' 5e-5: in 15 minutes on 2 cores, 5e-5 never put the source's
    # identity on the target's face, 2e-4 did from ~10 minutes, 4e-4 sooner (BENCHMARKS.md).
    learning_rate: float = field(default=4e-4, metadata={"help": "Adam's learning rate",
                                                          "min": 0.0})
    save_every: int = field(default=500, metadata={"help": "steps between saves", "min": 1})
    preview_every: int = field(default=250, metadata={
        "help": "steps between preview grids (previews/step-N.png)", "min": 1})
    gan_weight: float = field(default=0.0, metadata={
        "help": "weight of the adversarial loss (a patch discriminator; 0: off). Switch it "
                "on once reconstruction has converged, by resuming with it", "min": 0.0})
    precision: Precision = field(default="auto", metadata={
        "help": "the network's arithmetic: auto (bf16 autocast for hq on a GPU, float32 "
                "otherwise, as measured: BENCHMARKS.md), fp32, or bf16"})
    seed: int = field(default=0, metadata={"help": "random seed (augmentation, weights)"})
    augment: AugmentOptions = field(default_factory=AugmentOptions,
                                    metadata={"help": "augmentation"})
    losses: LossOptions = field(default_factory=LossOptions, metadata={"help": "losses"})

    def __post_init__(self) -> None:
        from doppel.config import check_fields

        check_fields(self)


@dataclass
class RunSummary:
    """What a training run did."""

    output: Path
    first_step: int
    last_step: int
    seconds: float
    images_per_second: float
    loss: dict[str, float]
    stopped_by: str

    def lines(self) -> list[str]:
        losses = ", ".join(f"{side} {value:.4f}" for side, value in self.loss.items())
        return [f"{self.output}: steps {self.first_step} -> {self.last_step} in "
                f"{self.seconds:.0f} s ({self.images_per_second:.0f} images/s), loss {losses}; "
                f"stopped by {self.stopped_by}"]


def train(config: TrainConfig, runtime: Runtime) -> RunSummary:
    """Train (or resume) the model in config.output on the two facesets."""
    import torch

    from doppel.runtime import apply_threads, keep_freed_memory, resolve_device
    from doppel.train.checkpoint import MODEL_FILE, read_meta
    from doppel.train.data import load_faces
    from doppel.train.models import PRESETS, ModelOptions, build_model

    apply_threads(runtime.threads)
    keep_freed_memory()
    torch.set_flush_denormal(True)  # denormals under default init cost 3x here (measured)
    options = ModelOptions(config.architecture, config.preset)
    resolution = PRESETS[config.preset].resolution
    faces = {side: load_faces(path, resolution, side, config.coverage)
             for side, path in zip(SIDES, (config.source, config.target), strict=True)}
    resumed = (config.output / MODEL_FILE).is_file()
    meta = read_meta(config.output) if resumed else None
    if meta is not None:
        _check_same_model(meta, config)
    device = torch.device(resolve_device(runtime.device))
    torch.manual_seed(config.seed)
    model = build_model(options).to(device, memory_format=torch.channels_last)
    # beta1 0.5 as faceswap and DeepFaceLab train these networks; fused: one kernel for the
    # whole update (tiny: 3.6 ms a step against 13.7 for the default and foreach loops).
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                 betas=(0.5, 0.999), fused=True)
    adversary = None
    if config.gan_weight > 0:
        from doppel.train.adversarial import Adversary

        adversary = Adversary(config.gan_weight, config.learning_rate, device)
    step = 0
    if meta is not None:
        step = _resume(config.output, model, optimizer, adversary)
        # A saved optimizer brings its learning rate back; this run's --learning-rate wins
        # (lowering it for a last stretch is how these models are usually finished).
        for group in [*optimizer.param_groups,
                      *(adversary.optimizer.param_groups if adversary is not None else [])]:
            group["lr"] = config.learning_rate
    if config.output.exists() and not config.output.is_dir():
        raise DoppelError(f"{config.output} is a file: give a folder for the model with -o")
    config.output.mkdir(parents=True, exist_ok=True)
    loop = _Loop(config, runtime, model, optimizer, faces, device, adversary)
    return loop.run(step, _describe(config, faces, resolution))


class _Loop:
    """One run's state: the network, its optimizer, the data and where it all goes."""

    def __init__(self, config: TrainConfig, runtime: Runtime, model: Any, optimizer: Any,
                 faces: dict[str, TrainingFaces], device: Any, adversary: Any = None) -> None:
        self.config, self.runtime, self.adversary = config, runtime, adversary
        self.model, self.optimizer = model, optimizer
        self.faces, self.augment, self.losses = faces, config.augment, config.losses
        self.device = device
        self.bf16 = use_bf16(config.precision, device.type, config.preset)
        shown = min(PREVIEW_FACES, *(len(faces[side]) for side in SIDES))
        self.preview_faces = {side: _spread(len(faces[side]), shown) for side in SIDES}

    def run(self, first_step: int, description: dict[str, Any]) -> RunSummary:
        from tqdm import tqdm

        from doppel.train.feed import BatchFeeder, feed_workers

        config = self.config
        step, started, last_loss = first_step, time.monotonic(), {}
        deadline = started + config.minutes * 60 if config.minutes else math.inf
        total = config.steps if config.steps else None
        stopped_by = "the step limit"
        feeder = BatchFeeder(self.make_batch, first_step, feed_workers(self.device.type))
        with _interrupts() as interrupted, feeder, tqdm(
                total=total, initial=step, unit="step", disable=not self.runtime.progress,
                desc="train") as bar:
            while not config.steps or step < config.steps:
                if time.monotonic() >= deadline:
                    stopped_by = "the time limit"
                    break
                if interrupted():
                    stopped_by = "Ctrl-C"
                    break
                last_loss = self.step(feeder.take(step))
                step += 1
                bar.update(1)
                bar.set_postfix({side: f"{value:.4f}" for side, value in last_loss.items()})
                self.log(step, last_loss, time.monotonic() - started)
                if step % config.save_every == 0:
                    self.save(step, description)
                if step % config.preview_every == 0:
                    self.preview(step)
            if interrupted():
                stopped_by = "Ctrl-C"
            self.save(step, description)
            if step > first_step and step % config.preview_every:
                self.preview(step)  # every run ends with a look at where it got
        seconds = time.monotonic() - started
        images = (step - first_step) * 2 * config.batch
        return RunSummary(config.output, first_step, step, seconds,
                          images / seconds if seconds > 0 else 0.0, last_loss, stopped_by)

    def make_batch(self, step: int) -> dict[str, tuple[np.ndarray, ...]]:
        """Both sides' (inputs, targets, masks) for `step`: faces picked and augmented with
        the step's own random numbers (doppel.train.feed.step_rng). Runs on worker threads."""
        from doppel.train.augment import augment_batch, transfer_colours
        from doppel.train.data import unpack_masks
        from doppel.train.feed import step_rng

        rng = step_rng(self.config.seed, step)
        arrays = {}
        for side in SIDES:
            faces = self.faces[side]
            picked = rng.integers(0, len(faces), self.config.batch)
            crops = faces.crops[picked]
            if side == "source" and self.augment.colour_transfer > 0:
                other = self.faces["target"]
                crops = transfer_colours(crops, faces.masks[picked], other.crops, other.masks,
                                         rng, self.augment.colour_transfer)
            batch = augment_batch(crops, faces.masks[picked], rng, self.augment)
            arrays[side] = (batch.inputs, batch.targets,
                            np.concatenate(unpack_masks(batch.masks), 1))
        return arrays

    def step(self, arrays: dict[str, tuple[np.ndarray, ...]]) -> dict[str, float]:
        self.model.train()
        inputs, targets, masks = ({side: self._tensor(arrays[side][part]) for side in SIDES}
                                  for part in range(3))
        total, values, outputs = reconstruction_loss(self.model, inputs, targets, masks,
                                                     self.losses, self.bf16)
        if self.adversary is not None:
            import torch

            from doppel.train.adversarial import faces_only

            hulls = [masks[side][:, :1] for side in SIDES]
            fakes = torch.cat([faces_only(rgb, hull)
                               for (rgb, _), hull in zip(outputs, hulls, strict=True)])
            reals = torch.cat([faces_only(targets[side], hull)
                               for side, hull in zip(SIDES, hulls, strict=True)])
            adversarial = self.adversary.generator_loss(fakes)
            total = total + adversarial
            values["adversarial"] = float(adversarial.detach())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if not all(math.isfinite(v) for v in values.values()):
            raise DoppelError("training diverged (the loss is not a number): resume from the "
                              "last save with a lower --learning-rate")
        self.optimizer.step()
        if self.adversary is not None:
            values["discriminator"] = self.adversary.learn(reals, fakes)
        return values

    def _tensor(self, array: np.ndarray) -> Any:
        # Pinned memory and non-blocking copies were tried for a GPU: no faster (hq on an
        # H100, where making the batches is what limits a step).
        import torch

        return torch.from_numpy(array).to(self.device).contiguous(
            memory_format=torch.channels_last)

    def log(self, step: int, loss: dict[str, float], seconds: float) -> None:
        line = json.dumps({"step": step, "seconds": round(seconds, 3),
                           **{f"loss_{side}": value for side, value in loss.items()}})
        with open(self.config.output / LOG_FILE, "a", encoding="utf-8") as file:
            file.write(line + "\n")

    def save(self, step: int, description: dict[str, Any]) -> None:
        from doppel.train.checkpoint import capture_rng, save_model

        state = {"step": step, "optimizer": self.optimizer.state_dict(),
                 "rng": capture_rng()}
        if self.adversary is not None:
            state["adversary"] = self.adversary.state()
        save_model(self.config.output, self.model, {**description, "step": step}, state)

    def preview(self, step: int) -> Path:
        """previews/step-N.png: rows of source -> source, target -> target, target -> source,
        each an input next to the network's output, on the same faces every time."""
        return write_preview(self.config.output / PREVIEW_DIR / f"step-{step:07d}.png",
                             self.model, self.faces, self.preview_faces, self.device)


# bf16 autocast against float32, a training step at 32 faces a side (`doppel bench train`):
# on an H100 hq 1.33x, base 0.85-1.02x, tiny 0.79x (too small to gain); on 2 CPU cores
# ~0.1x for every preset.
BF16_PRESETS = ("hq",)


def use_bf16(precision: str, device_type: str, preset: str) -> bool:
    """Whether the network runs under bf16 autocast (the losses stay float32)."""
    if precision == "auto":
        return device_type == "cuda" and preset in BF16_PRESETS
    return precision == "bf16"


def reconstruction_loss(model: Any, inputs: dict[str, Any], targets: dict[str, Any],
                        masks: dict[str, Any], options: LossOptions, bf16: bool = False
                        ) -> tuple[Any, dict[str, float], Any]:
    """Both sides rebuilt in one pass (model.reconstruct_both) and scored: the sum of the
    sides' losses (to backpropagate), each side's value, and the outputs ((rgb, mask) of the
    source, then of the target). bf16: the network under bf16 autocast; its outputs are
    scored in float32 (SSIM's variances, E[x^2] - E[x]^2, lose every digit in bf16)."""
    import torch

    from doppel.train.losses import face_loss

    device_type = inputs["source"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        outputs = model.reconstruct_both(inputs["source"], inputs["target"])
    if bf16:
        outputs = tuple((rgb.float(), mask.float()) for rgb, mask in outputs)
    losses = {side: face_loss(rgb, mask, targets[side], masks[side], options)
              for side, (rgb, mask) in zip(SIDES, outputs, strict=True)}
    return (losses["source"] + losses["target"],
            {side: float(loss.detach()) for side, loss in losses.items()}, outputs)


def write_preview(path: Path, model: Any, faces: dict[str, TrainingFaces],
                  picks: dict[str, list[int]], device: Any) -> Path:
    import cv2
    import torch

    from doppel.media import write_image
    from doppel.provenance import LabelConfig, Watermarker, mark_frame, new_watermark_id

    model.eval()
    rows = []
    with torch.no_grad():
        for side, swap in (("source", False), ("target", False), ("target", True)):
            crops = faces[side].crops[picks[side]]
            inputs = torch.from_numpy(crops.transpose(0, 3, 1, 2).astype(np.float32) / 255)
            inputs = inputs.to(device)
            rgb, _ = model.swap(inputs) if swap else model.reconstruct(inputs, side)
            outputs = (rgb.clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1) * 255).round()
            pairs = [cv2.resize(np.concatenate([crop, output], axis=1),
                                (2 * PREVIEW_TILE, PREVIEW_TILE), interpolation=cv2.INTER_CUBIC)
                     for crop, output in zip(crops, outputs.astype(np.uint8), strict=True)]
            rows.append(np.concatenate(pairs, axis=1))
    model.train()
    grid = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A training preview is generated media: watermarked and labelled like any other.
    return write_image(path, mark_frame(grid, Watermarker(new_watermark_id()), LabelConfig()))


def _describe(config: TrainConfig, faces: dict[str, TrainingFaces], resolution: int
              ) -> dict[str, Any]:
    """model.json's description (checkpoint adds the step)."""
    from doppel.config import to_dict

    return {
        "architecture": config.architecture, "preset": config.preset,
        "resolution": resolution, "coverage": faces["source"].coverage,
        "identities": {side: {"faceset": str(faces[side].path), "faces": len(faces[side]),
                              "consents": [consent.id for consent in faces[side].consents],
                              "subjects": sorted({c.subject for c in faces[side].consents}),
                              # who this side is, for swap to find the target in footage
                              "embedding": (None if faces[side].identity is None else
                                            [round(float(v), 6) for v in faces[side].identity])}
                       for side in SIDES},
        "consents": {consent.id: asdict(consent) for side in SIDES
                     for consent in faces[side].consents},
        "config": to_dict(config),
    }


def _check_same_model(meta: dict[str, Any], config: TrainConfig) -> None:
    if meta.get("coverage") != config.coverage:
        raise DoppelError(f"{config.output} holds a model of {meta.get('coverage')} crops, not "
                          f"{config.coverage}: resume with --coverage {meta.get('coverage')}, "
                          "or train into a new -o folder")
    for key in ("architecture", "preset"):
        if meta.get(key) != getattr(config, key):
            raise DoppelError(
                f"{config.output} holds a {meta.get('architecture')}/{meta.get('preset')} "
                f"model, not {config.architecture}/{config.preset}: resume with "
                f"--architecture {meta.get('architecture')} --preset {meta.get('preset')}, or "
                "train into a new -o folder")


def _resume(folder: Path, model: Any, optimizer: Any, adversary: Any = None) -> int:
    """The step `folder`'s model was saved at, with model, optimizer, torch's RNG and (when
    training adversarially and the save has one) the discriminator as they were. The
    batches need no saved state: each step's comes from the seed and the step's number."""
    from doppel.train.checkpoint import load_weights, read_train_state, restore_rng

    meta = load_weights(folder, model)
    state = read_train_state(folder)
    if state is None:
        log.warning("%s has no train-state.pt: resuming from the weights with a fresh "
                    "optimizer", folder)
        return int(meta.get("step", 0))
    optimizer.load_state_dict(state["optimizer"])
    restore_rng(state["rng"])
    if adversary is not None and "adversary" in state:
        adversary.restore(state["adversary"])
    return int(state["step"])


def _spread(total: int, count: int) -> list[int]:
    return [(2 * index + 1) * total // (2 * count) for index in range(count)]


@contextmanager
def _interrupts() -> Iterator[Any]:
    """Ctrl-C asks the loop to stop after the current step (it then saves); a second Ctrl-C
    stops at once (the last save is still whole: saves are atomic)."""
    asked = []

    def handle(signum: int, frame: Any) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        log.warning("stopping after this step and saving (Ctrl-C again to stop now)")

    try:
        previous = signal.signal(signal.SIGINT, handle)
    except ValueError:  # not the main thread: no handler, Ctrl-C stops at once
        yield lambda: False
        return
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)
