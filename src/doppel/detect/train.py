"""Training the forensic detector from scratch (`doppel detector train`): no pretrained
weights exist offline, so everything it knows comes from synthetic actors.

Data (doppel.detect.data): for each training actor (seeds from TRAIN_SEED_BASE, never the
identity pool the benchmarks test on) a real clip and a classic swap of another training actor
into it, through the same camera and final encodes; plus self-blended fakes made on the fly
from the real faces (doppel.detect.sbi), which teach the blend's traces rather than one
method's. A batch is half real faces, half fakes: SBI_SHARE of those self-blended, the rest
swaps. Augmentation: flips, JPEG at a random quality, a random downscale and upscale.

Calibration: CALIBRATION_SEED_BASE's actors, never trained on, made the same way, set the
scale and shift that turn the network's logits into probabilities (fit_calibration), so
the default threshold means the same on people the detector never saw.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from doppel.config import check_fields
from doppel.detect.data import Faces
from doppel.errors import DoppelError
from doppel.runtime import Runtime

log = logging.getLogger("doppel.detect")

TRAIN_SEED_BASE = 20_000  # training actors: seeds from here (the pool's are 3001-3399)
CALIBRATION_SEED_BASE = 21_000  # calibration actors: seeds from here, never trained on
SBI_SHARE = 0.5
JPEG_SHARE, RESIZE_SHARE = 0.3, 0.3
COLOUR_JITTER = 0.1
WEIGHTS_FILE = "detector.safetensors"
META_KEY = "doppel-detector"


@dataclass(frozen=True)
class DetectorTrainConfig:
    output: Path = field(default=Path("detector"), metadata={
        "help": "folder for the weights (detector.safetensors) and the cached faces",
        "short": "-o"})
    network: Literal["doppel", "meso4"] = field(default="doppel", metadata={
        "help": "doppel (shipped), or meso4 (the benchmark's reference)"})
    actors: int = field(default=240, metadata={"help": "training actors", "min": 2})
    calibration_actors: int = field(default=40, metadata={
        "help": "actors held out of training whose faces set the detector's probabilities "
                "(0: none)", "min": 0})
    seconds: float = field(default=0.8, metadata={"help": "seconds of each training clip",
                                                  "min": 0.2})
    steps: int = field(default=4000, metadata={
        "help": "training steps (the same steps give the same weights on the same CPU kind)",
        "min": 0})
    minutes: float = field(default=0.0, metadata={
        "help": "stop after this many minutes instead of --steps (0: by steps)", "min": 0.0})
    batch: int = field(default=32, metadata={"help": "faces per step", "min": 2})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW's, cosine to 0"})
    seed: int = field(default=0, metadata={"help": "seed of data and training"})

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.steps and not self.minutes:
            raise DoppelError("give --steps or --minutes: training needs an end")
        if self.calibration_actors == 1:
            raise DoppelError("--calibration-actors needs 2 or more (each one's swap takes "
                              "the next one's face), or 0 for none")


@dataclass
class DetectorTrainSummary:
    output: Path
    faces: int = 0
    steps: int = 0
    seconds: float = 0.0
    loss: float = float("nan")

    def lines(self) -> list[str]:
        return [f"{self.output / WEIGHTS_FILE}: {self.steps} steps on {self.faces} faces in "
                f"{self.seconds / 60:.1f} min, last loss {self.loss:.3f}"]


def train_detector(config: DetectorTrainConfig, runtime: Runtime) -> DetectorTrainSummary:
    import torch

    from doppel.detect.model import build_detector

    torch.manual_seed(config.seed)
    started = time.perf_counter()
    faces = training_faces(config, runtime)
    summary = DetectorTrainSummary(config.output, faces=len(faces))
    network = build_detector(config.network).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate,
                                  weight_decay=1e-4)
    rng = np.random.default_rng(config.seed + 1)
    budget = config.minutes * 60
    clock = time.perf_counter()
    network.train()
    from tqdm import tqdm

    with tqdm(total=None if config.minutes else config.steps, desc="detector", unit="step",
              leave=False, disable=not runtime.progress) as bar:
        while True:
            done = time.perf_counter() - clock
            if (config.minutes and done >= budget) or \
                    (not config.minutes and summary.steps >= config.steps):
                break
            progress = done / budget if config.minutes else summary.steps / config.steps
            for group in optimiser.param_groups:
                group["lr"] = config.learning_rate * 0.5 * (1 + np.cos(np.pi * progress))
            images, labels = training_batch(faces, config.batch, rng)
            logits = network(to_tensor(images))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(labels))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            summary.steps += 1
            summary.loss = loss.item()
            bar.update()
            bar.set_postfix(loss=f"{summary.loss:.3f}")
    network.eval()
    calibration = {"scale": 1.0, "shift": 0.0}
    if config.calibration_actors:
        held_out = calibration_faces(config, runtime)
        with torch.inference_mode():
            logits = np.concatenate([network(to_tensor(held_out.crops[start:start + 64]))
                                     .numpy() for start in range(0, len(held_out), 64)])
        calibration = fit_calibration(logits, held_out.swapped)
    summary.seconds = time.perf_counter() - started
    save_detector(config.output / WEIGHTS_FILE, network, {
        "network": config.network, "config": _plain(asdict(config)), "steps": summary.steps,
        "faces": len(faces), "calibration": calibration, "trained_on": TRAINED_ON})
    return summary


TRAINED_ON = ("synthetic actors only (rendered people who do not exist): real clips, classic "
              "landmark swaps and self-blended fakes, through H.264 at crf 18-28, half of "
              "them watermarked; real-world footage may differ")


def training_faces(config: DetectorTrainConfig, runtime: Runtime) -> Faces:
    """The training clips' faces, cached in the output folder by what made them."""
    return _actor_faces(config, runtime, TRAIN_SEED_BASE, config.actors, config.seed,
                        "training clips")


def calibration_faces(config: DetectorTrainConfig, runtime: Runtime) -> Faces:
    """Faces of actors training never saw, made the same way, for fit_calibration."""
    return _actor_faces(config, runtime, CALIBRATION_SEED_BASE, config.calibration_actors,
                        config.seed + 1, "calibration clips")


def fit_calibration(logits: npt.NDArray[np.floating], swapped: npt.NDArray[np.bool_]
                    ) -> dict[str, float]:
    """Platt scaling: the scale and shift that make sigmoid(scale * logit + shift) the
    probability a face is swapped, fitted by logistic regression on held-out faces (real and
    swapped weighed equally). A network recognises the real faces it was trained on, so its
    raw scores lean "real" there and "swapped" on everyone else: the held-out fit corrects
    that lean."""
    z, y = np.asarray(logits, np.float64), np.asarray(swapped, np.float64)
    if y.min() == y.max():
        raise DoppelError("calibration needs real and swapped faces: give more actors")
    weight = np.where(y > 0, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    features = np.stack([z, np.ones_like(z)], axis=1)
    params = np.array([1.0, 0.0])
    for _ in range(50):  # Newton's method on the weighted log loss (convex), a little ridge
        p = 1 / (1 + np.exp(-np.clip(features @ params, -30, 30)))
        gradient = features.T @ (weight * (p - y)) + 1e-4 * params
        hessian = (features * (weight * p * (1 - p))[:, None]).T @ features + 1e-4 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.abs(step).max() < 1e-9:
            break
    return {"scale": float(params[0]), "shift": float(params[1])}


def _actor_faces(config: DetectorTrainConfig, runtime: Runtime, first_seed: int, actors: int,
                 seed: int, what: str) -> Faces:
    """A real clip of each actor and the classic swap of the next one into another of its
    clips, cached in the output folder by what made them."""
    from doppel.detect.data import classic_swap, join_faces, make_clip_faces, open_face_finder

    # the training faces keep the key they had before calibration sets existed (their
    # cache, 20 minutes to make, stays valid); other sets add their first seed
    key = hashlib.sha256(json.dumps([actors, config.seconds, seed, 2] + (
        [first_seed] if first_seed != TRAIN_SEED_BASE else [])).encode()).hexdigest()[:12]
    cache = Path(config.output) / f"faces-{key}.npz"
    if cache.exists():
        return _load_faces(cache)
    rng = np.random.default_rng(seed)
    seeds = [first_seed + index for index in range(actors)]
    parts = []
    from tqdm import tqdm

    with open_face_finder() as detector:
        for index, seed in enumerate(tqdm(seeds, desc=what, unit="actor",
                                          leave=False, disable=not runtime.progress)):
            source = seeds[(index + 1) % len(seeds)]
            parts.append(make_clip_faces(seed, config.seconds, None, "real", rng, detector))
            parts.append(make_clip_faces(seed, config.seconds, classic_swap(source), "classic",
                                         rng, detector, variant=1))
    faces = join_faces(parts)
    if not len(faces):
        raise DoppelError(f"no face was found in the {what}")
    Path(config.output).mkdir(parents=True, exist_ok=True)
    _save_faces(cache, faces)
    return faces


def training_batch(faces: Faces, count: int, rng: np.random.Generator
                   ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """`count` augmented crops (uint8 N x S x S x 3) and labels (1: swapped), half real."""
    from doppel.detect.sbi import self_blend

    real = np.flatnonzero(~faces.swapped)
    swapped = np.flatnonzero(faces.swapped)
    rows = rng.choice(real, count // 2)
    images, labels = [], []
    for row in rows:
        images.append(_augment(faces.crops[row], rng))
        labels.append(0.0)
    # The fakes are mostly self-blends of the same real faces: a fake and its real face side
    # by side leave nothing to tell them apart but the blend, never who the person is.
    for index in range(count - len(rows)):
        row = rows[index % len(rows)]
        if len(swapped) and rng.random() >= SBI_SHARE:
            image = faces.crops[int(rng.choice(swapped))]
        else:
            image = self_blend(faces.crops[row], faces.points[row], rng)[0]
        images.append(_augment(image, rng))
        labels.append(1.0)
    return np.array(images), np.array(labels, np.float32)


def _augment(image: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    import cv2

    if rng.random() < 0.5:
        image = image[:, ::-1]
    # light and white balance: the whole picture's, so it says nothing of a blend
    gain = 1.0 + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, 3)
    image = np.clip(image * gain.astype(np.float32) + rng.uniform(-10, 10), 0, 255
                    ).astype(np.uint8)
    if rng.random() < RESIZE_SHARE:
        size = image.shape[0]
        small = int(size * rng.uniform(0.5, 0.9))
        image = cv2.resize(cv2.resize(np.ascontiguousarray(image), (small, small),
                                      interpolation=cv2.INTER_AREA), (size, size),
                           interpolation=cv2.INTER_LINEAR)
    if rng.random() < JPEG_SHARE:
        quality = int(rng.integers(60, 96))
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                                [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(image)


def to_tensor(images: npt.NDArray[np.uint8]) -> Any:
    """uint8 N x S x S x 3 -> float32 N x 3 x S x S in [0, 1], channels_last."""
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)


def save_detector(path: Path, network: Any, meta: dict[str, Any]) -> None:
    """The weights in fp16 (half the size, scores equal to ~1e-3) with `meta`, atomically."""
    import safetensors.torch

    from doppel.files import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
               for name, tensor in network.state_dict().items()}
    with atomic_path(path) as temp:
        safetensors.torch.save_file(tensors, str(temp), metadata={META_KEY: json.dumps(meta)})


def _save_faces(path: Path, faces: Faces) -> None:
    from doppel.files import atomic_path

    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, crops=faces.crops, points=faces.points, swapped=faces.swapped,
                 clips=faces.clips, kinds=np.array(faces.kinds))


def _load_faces(path: Path) -> Faces:
    with np.load(path) as data:
        return Faces(data["crops"], data["points"], data["swapped"], data["clips"],
                     tuple(str(kind) for kind in data["kinds"]))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return str(value) if isinstance(value, Path) else value
