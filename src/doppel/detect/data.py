"""Faces for training and testing the forensic detector, all from synthetic actors.

Every clip goes the way footage a user checks would: rendered, encoded as a camera would
(H.264 crf 23), decoded; then swapped (or not); then, half the time, watermarked; then encoded
again at a random quality and decoded. Real and swapped clips take the same steps, so neither
compression nor the watermark tells them apart: only the swap does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.detect import COVERAGE, INPUT_SIZE

Image = npt.NDArray[np.uint8]
SIZE = 256  # the clips' side: the quality suite's
FPS = 10.0
CAMERA_CRF = 23
FINAL_CRFS = (18, 23, 28)  # the last encode's quality, drawn per clip
MARKED_SHARE = 0.5  # clips watermarked before their last encode (real and swapped alike)

Swap = Callable[[list[Image], Any], list[Image]]  # (a clip's pictures, face detector) -> swapped


@dataclass(frozen=True, eq=False)
class Faces:
    """Aligned face crops with what they are.

    crops: uint8 N x S x S x 3 (RGB, S = INPUT_SIZE at COVERAGE); points: float32 N x 68 x 2,
    the landmarks in crop pixels; swapped: bool N; clips: int32 N, which clip each came from;
    kinds: each clip's kind ("real", "classic", "model", ...), by clip number."""

    crops: npt.NDArray[np.uint8]
    points: npt.NDArray[np.float32]
    swapped: npt.NDArray[np.bool_]
    clips: npt.NDArray[np.int32]
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.crops)

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.int_]) -> Faces:
        return Faces(self.crops[rows], self.points[rows], self.swapped[rows], self.clips[rows],
                     self.kinds)


def join_faces(parts: Sequence[Faces]) -> Faces:
    """One Faces of several, clip numbers kept apart."""
    offsets = np.cumsum([0] + [len(part.kinds) for part in parts])
    return Faces(np.concatenate([part.crops for part in parts]),
                 np.concatenate([part.points for part in parts]),
                 np.concatenate([part.swapped for part in parts]),
                 np.concatenate([part.clips + offset for part, offset in zip(parts, offsets)])
                 .astype(np.int32),
                 tuple(kind for part in parts for kind in part.kinds))


def actor_clip(seed: int, seconds: float, variant: int = 0) -> list[Image]:
    """Actor `seed` performing (pose and expression from seed + variant) in its own scene, as
    camera footage: rendered, H.264 crf 23, decoded."""
    from doppel.synth import generate_performance, random_actor, random_scene, render

    performance = generate_performance(seconds, FPS, seed + 7 * variant + 1, max_yaw=30.0)
    pictures = [frame.rgb for frame in render(random_actor(seed), performance,
                                              random_scene(seed), SIZE)]
    return h264_round_trip(pictures, CAMERA_CRF)


def h264_round_trip(pictures: Iterable[Image], crf: int) -> list[Image]:
    """The pictures encoded as one H.264 clip at `crf` and decoded again."""
    from doppel.media import VideoWriter, WriterConfig, read_frames
    from doppel.types import Frame

    rate = Fraction(FPS).limit_denominator(1001)
    with tempfile.TemporaryDirectory(prefix="doppel-detect-") as folder:
        path = Path(folder) / "clip.mp4"
        with VideoWriter(path, rate, config=WriterConfig(crf=crf)) as writer:
            for index, rgb in enumerate(pictures):
                writer.write(Frame(index, index / rate, rgb))
        return [frame.rgb for frame in read_frames(path)]


def finish_clip(pictures: list[Image], rng: np.random.Generator) -> list[Image]:
    """The last steps every clip takes: watermarked half the time, encoded at a random
    quality, decoded."""
    from doppel.provenance import LabelConfig, Watermarker, mark_frame, new_watermark_id

    if rng.random() < MARKED_SHARE:
        marker = Watermarker(new_watermark_id("detect-data"))
        unlabelled = LabelConfig(visible_label=False)
        pictures = [mark_frame(rgb, marker, unlabelled) for rgb in pictures]
    return h264_round_trip(pictures, int(rng.choice(FINAL_CRFS)))


def classic_swap(source_seed: int) -> Swap:
    """The classic landmark swap of actor `source_seed`'s neutral face into each picture."""
    def swap(pictures: list[Image], detector: Any) -> list[Image]:
        from doppel.swap import SWAPPERS, prepare_source
        from doppel.synth import neutral_performance, random_actor, random_scene, render

        source_rgb = next(render(random_actor(source_seed), neutral_performance(1, FPS),
                                 random_scene(source_seed), SIZE)).rgb
        swapper = SWAPPERS.get("classic")()
        found = detector.detect(source_rgb)
        if not found:
            return []
        source = prepare_source(source_rgb, found[0].landmarks)
        return _swap_each(pictures, detector,
                          lambda rgb, face: swapper.swap_frame(rgb, face, source))

    return swap


def model_swap(model: Path) -> Swap:
    """A model made by `doppel train` swapping the largest face of each picture."""
    def swap(pictures: list[Image], detector: Any) -> list[Image]:
        from doppel.swap.model import ModelSwapper

        swapper = ModelSwapper(model)
        swapper.temporal = True
        return _swap_each(pictures, detector, lambda rgb, face: swapper.swap_frame(rgb, face))

    return swap


def open_face_finder() -> Any:
    """The face detector the data's steps share (a context manager): mediapipe with every
    picture on its own, so clip after clip needs no new graph (building one costs ~0.3 s)."""
    from doppel.faces import open_detector

    return open_detector("mediapipe", static=True)


def _swap_each(pictures: list[Image], detector: Any,
               swap_face: Callable[[Image, Any], Image]) -> list[Image]:
    """Each picture with its largest face swapped; pictures without a face are dropped (a
    clip of swaps should hold swapped faces only)."""
    swapped = []
    for rgb in pictures:
        faces = detector.detect(rgb)
        if faces:
            swapped.append(swap_face(rgb, faces[0]))
    return swapped


def clip_faces(pictures: Iterable[Image], swapped: bool, kind: str, detector: Any) -> Faces:
    """The largest face of each picture, aligned as the detector sees faces."""
    from doppel.faces.align import align_face

    crops, points = [], []
    for rgb in pictures:
        faces = detector.detect(rgb)
        if faces:
            aligned = align_face(rgb, faces[0].points68, INPUT_SIZE, COVERAGE)
            crops.append(aligned.image)
            points.append(aligned.points68)
    count = len(crops)
    return Faces(np.array(crops, np.uint8).reshape(count, INPUT_SIZE, INPUT_SIZE, 3),
                 np.array(points, np.float32).reshape(count, 68, 2),
                 np.full(count, swapped), np.zeros(count, np.int32), (kind,))


def make_clip_faces(target_seed: int, seconds: float, swap: Swap | None, kind: str,
                    rng: np.random.Generator, detector: Any, variant: int = 0) -> Faces:
    """Faces of one clip of actor `target_seed`: real (`swap` None) or swapped by `swap`;
    detector: open_face_finder()'s."""
    pictures = actor_clip(target_seed, seconds, variant)
    if swap is not None:
        pictures = swap(pictures, detector)
    return clip_faces(finish_clip(pictures, rng) if pictures else [], swap is not None, kind,
                      detector)
