"""Facesets of two pool actors made straight from renders and their true landmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from doppel.bench.train import make_training_faceset

SEEDS = {"source": 0, "target": 1}  # indices into the identity pool


@pytest.fixture(scope="session")
def facesets(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("facesets")
    return {side: make_training_faceset(folder / side, index) for side, index in SEEDS.items()}


@pytest.fixture(scope="session")
def make_faceset():
    """make_faceset(folder, pool_index, faces=24, size=128, consent=True) -> folder."""
    return make_training_faceset
