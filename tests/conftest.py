"""Shared fixtures: small media made on the fly (nothing binary is committed)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from doppel.media.testclip import make_test_clip

TRAINING_SEEDS = {"source": 0, "target": 1}  # indices into the identity pool


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """The ffmpeg binary shipped in imageio-ffmpeg: an independent reference for our media I/O."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def run_ffmpeg(ffmpeg):
    def run(*args: str) -> None:
        subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True)

    return run


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """3 s, 320x240, 30 fps test pattern with a tone and flash+click pairs at 0.5/1.5/2.5 s."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    return make_test_clip(path, seconds=3.0, size=(320, 240), fps=Fraction(30))


@pytest.fixture(scope="session")
def facesets(tmp_path_factory) -> dict[str, Path]:
    """Facesets of two pool actors (source: pool 0, target: pool 1), 24 faces each at 128 px,
    made straight from renders and their true landmarks, with consent and identity."""
    from doppel.bench.train import make_training_faceset

    folder = tmp_path_factory.mktemp("facesets")
    return {side: make_training_faceset(folder / side, index)
            for side, index in TRAINING_SEEDS.items()}


@pytest.fixture(scope="session")
def make_faceset():
    """make_faceset(folder, pool_index, faces=24, size=128, consent=True) -> folder."""
    from doppel.bench.train import make_training_faceset

    return make_training_faceset


@pytest.fixture(scope="session")
def trained_model(facesets, tmp_path_factory) -> Path:
    """A tiny model trained a few steps on `facesets` (it draws blurry faces, which is all
    the tests of what uses a model need)."""
    from doppel.runtime import Runtime
    from doppel.train.trainer import TrainConfig, train

    folder = tmp_path_factory.mktemp("model") / "model"
    train(TrainConfig(source=facesets["source"], target=facesets["target"], output=folder,
                      steps=3, batch=16, save_every=1000, preview_every=1000),
          Runtime(progress=False))
    return folder
