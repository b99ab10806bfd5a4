"""Facesets of two pool actors made straight from renders and their true landmarks (no
detector: fast, and the faces are where the truth says)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from doppel.types import Consent

FACES = 24
SEEDS = {"source": 0, "target": 1}  # indices into the identity pool


def _make_faceset(folder: Path, pool_index: int, faces: int = FACES, size: int = 128,
                 consent: bool = True) -> Path:
    from doppel.faces.align import align_face
    from doppel.faces.landmarks import points68_from_mediapipe
    from doppel.faces.masks import face_hull_mask
    from doppel.faceset import FaceRecord, open_faceset
    from doppel.synth import generate_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS

    seed = POOL_SEEDS[pool_index]
    performance = generate_performance(faces / 10.0, 10.0, seed, max_yaw=25.0)
    with open_faceset(folder, create=True) as faceset:
        if consent:
            faceset.add_consent(Consent(f"actor-{seed}", "synthetic identity, no real person",
                                        "2026-11-26", "synthetic"))
        for frame in render(random_actor(seed), performance, random_scene(seed), 256):
            points68 = points68_from_mediapipe(frame.landmarks)
            aligned = align_face(frame.rgb, points68, size, "whole-face")
            mask = face_hull_mask(aligned.points68, (size, size), forehead=True)
            faceset.add(FaceRecord(
                source_path=Path(f"actor-{seed}.mp4"), source_hash=f"{seed:064x}",
                frame=frame.index, pts=None, box=(0.0, 0.0, 1.0, 1.0),
                landmarks=frame.landmarks.astype(np.float32), points68=points68,
                matrix=aligned.matrix, size=size, coverage="whole-face", pose=frame.pose,
                blur=100.0, score=1.0, track=0, crop=aligned.image, mask=mask))
    return folder


@pytest.fixture(scope="session")
def facesets(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("facesets")
    return {side: _make_faceset(folder / side, index) for side, index in SEEDS.items()}


@pytest.fixture(scope="session")
def make_faceset():
    """make_faceset(folder, pool_index, faces=FACES, size=128, consent=True) -> folder."""
    return _make_faceset
