"""Faces for faceset tests: synthetic actors cut out with a fixed box (alignment is tested
elsewhere), and cheap noise records where only the bookkeeping matters."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from doppel.faceset import FaceRecord

FRAME_SIZE = 96
BOX = (16, 16, 80, 80)  # x0, y0, x1, y1: a 64-px crop around the face
CROP = BOX[2] - BOX[0]


def fake_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture(scope="session")
def actor_faces() -> list[FaceRecord]:
    """12 faces: 2 synthetic actors x 6 frames of a performance with head turns, 25 fps."""
    from doppel.synth import generate_performance, random_actor, random_scene, render

    records = []
    for seed, track in ((3, 0), (7, 1)):
        actor, scene = random_actor(seed), random_scene(seed)
        performance = generate_performance(0.24, 25.0, seed).slice(0, 6)
        for frame in render(actor, performance, scene, FRAME_SIZE):
            x0, y0, x1, y1 = BOX
            landmarks = frame.landmarks.astype(np.float32)
            low, high = landmarks.min(axis=0), landmarks.max(axis=0)
            records.append(FaceRecord(
                source_path=Path(f"/clips/actor{seed}.mp4"), source_hash=fake_hash(str(seed)),
                frame=frame.index, pts=Fraction(frame.index, 25),
                box=(float(low[0]), float(low[1]), float(high[0]), float(high[1])),
                landmarks=landmarks,
                points68=landmarks[:68].copy(),  # stand-in: only storage is under test here
                matrix=np.array([[1, 0, -x0], [0, 1, -y0]], np.float64),
                size=CROP, coverage="face", pose=tuple(float(v) for v in frame.pose),
                blur=float(np.var(np.diff(frame.rgb[y0:y1, x0:x1, 1].astype(float)))),
                score=0.9, track=track,
                crop=np.ascontiguousarray(frame.rgb[y0:y1, x0:x1]),
                mask=np.ascontiguousarray(frame.face_mask[y0:y1, x0:x1]),
            ))
    return records


@pytest.fixture
def make_face():
    """noise_face, for tests (conftest modules are not imported by name)."""
    return noise_face


def noise_face(index: int, source: str = "a", track: int = 0, yaw: float = 0.0,
               size: int = 16, coverage: str = "face") -> FaceRecord:
    """A cheap record with random pixels: for tests of bookkeeping, not of pictures."""
    rng = np.random.default_rng(index)
    return FaceRecord(
        source_path=Path(f"/clips/{source}.mp4"), source_hash=fake_hash(source), frame=index,
        pts=Fraction(index * 1001, 30000), box=(1.0, 2.0, 3.0, 4.0),
        landmarks=rng.random((478, 2), np.float32), points68=rng.random((68, 2), np.float32),
        matrix=rng.random((2, 3)), size=size, coverage=coverage, pose=(yaw, 1.0, -2.0),
        blur=float(index), score=0.5, track=track,
        crop=rng.integers(0, 256, (size, size, 3), np.uint8),
        mask=rng.integers(0, 256, (size, size), np.uint8),
    )
