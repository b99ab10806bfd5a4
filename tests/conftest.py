"""Shared fixtures: small media made on the fly (nothing binary is committed)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from doppel.media.testclip import make_test_clip


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
