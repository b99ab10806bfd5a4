"""`doppel synth`: clips of synthetic actors with their truth, labelled like every output."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt

from doppel.config import check_fields
from doppel.files import atomic_path, check_output_path, make_output_folder
from doppel.media import VideoWriter, WriterConfig, tile_grid, write_image
from doppel.provenance.keys import SigningConfig
from doppel.provenance.label import LabelConfig
from doppel.runtime import Runtime, apply_threads
from doppel.types import Consent, Frame

log = logging.getLogger("doppel.synth")
SYNTHETIC_STATEMENT = "synthetic identity, no real person"
SAMPLE_RATE = 48000
_NO_PICTURE = np.zeros((0, 0), np.uint8)


@dataclass(frozen=True)
class SynthConfig:
    output: Path = field(metadata={"help": "output folder", "short": "-o"})
    actors: int = field(default=2, metadata={"help": "how many actors (one clip each)",
                                             "min": 1, "max": 10000})
    seconds: float = field(default=10.0, metadata={"help": "clip length", "min": 0.1,
                                                   "max": 3600.0})
    size: int = field(default=512, metadata={"help": "frame width and height in pixels",
                                             "min": 64, "max": 2048})
    fps: float = field(default=25.0, metadata={"help": "frame rate", "min": 1.0, "max": 120.0})
    seed: int = field(default=0, metadata={"help": "the same seed gives the same actors, "
                                                   "performances and scenes (0: the identity "
                                                   "pool's actors first)", "min": 0})
    contact_sheet: int = field(default=0, metadata={
        "help": "instead of clips, write contact-sheet.png showing N actors", "min": 0,
        "max": 400, "metavar": "N"})
    video: WriterConfig = field(default_factory=WriterConfig, metadata={"help": "encoding"})
    label: LabelConfig = field(default_factory=LabelConfig, metadata={"help": "visible label"})
    signing: SigningConfig = field(default_factory=SigningConfig, metadata={
        "help": "signer of the outputs' manifests"})

    def __post_init__(self) -> None:
        check_fields(self)


def actor_seeds(seed: int, count: int) -> list[int]:
    """The actors of a run. Seed 0 (the default) takes the identity pool first — actors picked
    to be far apart for a face recogniser (`doppel.synth.pool`) — then 0, 1, ...; seed s > 0
    gives actors s*10000, s*10000+1, ..."""
    from doppel.synth.pool import POOL_SEEDS

    if seed == 0:
        return [*POOL_SEEDS[:count], *range(max(0, count - len(POOL_SEEDS)))]
    return [seed * 10_000 + index for index in range(count)]


def synthetic_consent(actor_id: str) -> Consent:
    return Consent(actor_id, SYNTHETIC_STATEMENT, datetime.date.today().isoformat(), "synthetic")


def run_synth(config: SynthConfig, runtime: Runtime) -> int:
    from doppel.provenance.watermark import MIN_RELIABLE_SIDE

    apply_threads(runtime.threads)
    if config.size < MIN_RELIABLE_SIDE and not config.contact_sheet:
        log.warning("at %d px the invisible watermark may not be found again (it needs about "
                    "%d px); the signed manifest still labels the clips", config.size,
                    MIN_RELIABLE_SIDE)
    folder = make_output_folder(config.output)
    if config.contact_sheet:
        path = write_contact_sheet(folder / "contact-sheet.png", config, runtime)
        print(f"{path}: {config.contact_sheet} actors")
        return 0
    for seed in actor_seeds(config.seed, config.actors):
        video, truth = write_actor_clip(folder, seed, config, runtime)
        print(f"{video}: {config.seconds:g} s at {config.size}x{config.size}; truth {truth.name}")
    return 0


def write_actor_clip(folder: Path, seed: int, config: SynthConfig, runtime: Runtime
                     ) -> tuple[Path, Path]:
    """One actor's labelled clip (H.264 + speech-like audio) and its truth.npz."""
    from doppel.provenance import Claim, Watermarker, mark_frame, new_watermark_id, sign_file
    from doppel.provenance.keys import signer_for
    from doppel.provenance.ledger import LEDGER_FILE
    from doppel.synth import generate_performance, random_actor, random_scene, render
    from doppel.synth.audio import speech_audio

    actor = random_actor(seed)
    performance = generate_performance(config.seconds, config.fps, seed)
    scene = random_scene(seed)
    consent = synthetic_consent(actor.id)
    video_path, truth_path = folder / f"{actor.id}.mp4", folder / f"{actor.id}.truth.npz"
    check_output_path(video_path)
    watermark_id = new_watermark_id()
    marker = Watermarker(watermark_id)
    config_dir = runtime.config_dir or folder
    signer = signer_for(config.signing, config_dir)
    claim = Claim("synthetic", watermark_id, (consent.id,), title=video_path.name)
    fps = Fraction(config.fps).limit_denominator(1001)
    frames = []
    with _speech_wav(folder, actor.id, speech_audio(performance, SAMPLE_RATE)) as wav, \
            VideoWriter(video_path, fps, audio_from=wav, config=config.video, threads=runtime.threads,
                        on_finish=lambda temp: sign_file(temp, claim, signer,
                                                         config_dir / LEDGER_FILE)) as writer:
        for frame in _progress(render(actor, performance, scene, config.size),
                               len(performance), actor.id, runtime):
            writer.write(Frame(frame.index, frame.index / fps,
                               mark_frame(frame.rgb, marker, config.label)))
            # The truth only: keeping whole frames (pictures, part maps) would hold the clip.
            frames.append(replace(frame, rgb=_NO_PICTURE, parts=_NO_PICTURE))
    write_truth(truth_path, frames, actor, performance, scene, consent, watermark_id)
    return video_path, truth_path


def write_truth(path: Path, frames: list, actor, performance, scene, consent: Consent,
                watermark_id: int) -> Path:
    """truth.npz: per-frame landmarks (mediapipe order), visibility, pose, expression, gaze,
    face masks; the actor, performance and scene that made the clip; consent and watermark ids."""
    from doppel.synth import EXPRESSIONS

    arrays = {
        "landmarks": np.stack([f.landmarks for f in frames]),
        "visible": np.stack([f.visible for f in frames]),
        "pose": np.array([f.pose for f in frames], np.float32),
        "expression": np.array([f.expression for f in frames], np.float32),
        "expression_names": np.array(EXPRESSIONS),
        "gaze": np.array([f.gaze for f in frames], np.float32),
        "face_mask": np.stack([f.face_mask for f in frames]),
        "actor_id": np.array(actor.id),
        "actor": np.array(json.dumps(asdict(actor))),
        "scene": np.array(json.dumps(asdict(scene), default=str)),
        "consent": np.array(consent.canonical_json()),
        "consent_id": np.array(consent.id),
        "watermark_id": np.array(f"{watermark_id:016x}"),
        **{f"performance_{key}": value for key, value in performance.to_arrays().items()},
    }
    with atomic_path(path) as temp, open(temp, "wb") as file:
        np.savez_compressed(file, **arrays)
    return path


def write_contact_sheet(path: Path, config: SynthConfig, runtime: Runtime) -> Path:
    """N actors, each frontal and turned 30 degrees, in a grid; labelled and signed."""
    from doppel.provenance import Claim, Watermarker, mark_frame, new_watermark_id, sign_file
    from doppel.provenance.keys import signer_for
    from doppel.provenance.ledger import LEDGER_FILE
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    tile = min(config.size, 256)
    seeds = actor_seeds(config.seed, config.contact_sheet)
    tiles = []
    for seed in _progress(seeds, len(seeds), "contact sheet", runtime):
        actor, scene = random_actor(seed), random_scene(seed)
        pose = replace(neutral_performance(2, config.fps), yaw=np.array([0.0, 30.0], np.float32))
        tiles.append(np.concatenate([f.rgb for f in render(actor, pose, scene, tile)], axis=1))
    sheet = tile_grid(tiles)
    consents = tuple(synthetic_consent(random_actor(seed).id).id for seed in seeds)
    watermark_id = new_watermark_id()
    config_dir = runtime.config_dir or path.parent
    signer = signer_for(config.signing, config_dir)
    claim = Claim("synthetic", watermark_id, consents, title=path.name)
    return write_image(path, mark_frame(sheet, Watermarker(watermark_id), config.label),
                       on_finish=lambda temp: sign_file(temp, claim, signer,
                                                        config_dir / LEDGER_FILE))


@contextlib.contextmanager
def _speech_wav(folder: Path, name: str, samples: npt.NDArray[np.float32]) -> Iterator[Path]:
    """The synthetic voice as a 16-bit WAV next to the output (the writer's audio source),
    removed afterwards."""
    path = folder / f".{name}.speech.wav"
    pcm = np.clip(np.rint(samples * 32767), -32768, 32767).astype("<i2")
    try:
        with wave.open(str(path), "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(SAMPLE_RATE)
            file.writeframes(pcm.tobytes())
        yield path
    finally:
        path.unlink(missing_ok=True)


def _progress(items, total: int, description: str, runtime: Runtime):
    from tqdm import tqdm

    return tqdm(items, total=total, desc=description, unit="frame", leave=False,
                disable=not runtime.progress)
