"""`doppel demo`: the whole pipeline (short: 6 s of training, a 2-s target clip), its report in
headless Chromium, and a rerun that reuses every finished stage."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from chromium import Page, chromium_or_skip
from PIL import Image

STAGES = 7  # cached stages; the report is always written


def run_demo(folder, config_home, *extra):
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}  # keys and ledger go here
    return subprocess.run([sys.executable, "-m", "doppel", "demo", "-o", str(folder),
                           "--minutes", "0.1", "--seconds", "2", *extra],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    result = run_demo(root / "out", root / "config")
    # stdout too: which stage said what before the error (a rare "faceset holds no faces"
    # at the train stage, seen once in a fresh clone, never reproduced)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return root, result.stdout


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_the_report(demo):
    root, out = demo
    folder = root / "out"
    for number, stage in enumerate(("synthetic actors", "collect", "train", "swap", "verify",
                                    "detect", "measure", "report"), start=1):
        assert f"[{number}/8] {stage}" in out
    assert "(source), labelled and signed" in out and "(target), labelled and signed" in out
    assert "faceset-source: 100 faces from 100 frames; consent: synthetic" in out
    assert "faceset-target: 50 faces from 50 frames; consent: synthetic" in out
    assert "stopped by the time limit" in out
    assert "50 face(s) replaced in 50 of 50 frame(s)" in out
    assert "swapped.mp4: AI-generated (manifest + watermark)" in out
    assert "(watermark only; manifest stripped); ledger finds swapped.mp4" in out
    assert "swapped.mp4: provenance AI-generated (manifest + watermark); forensic " in out
    assert "doppel: masked SSIM" in out and "classic: masked SSIM" in out
    for name in ("report.html", "comparison.webm", "frames.png", "swapped.mp4", "timelapse.webp",
                 "detect-swapped/heatmap.png", "screenshot.jpg"):
        assert (folder / name).is_file(), name
    assert list((folder / "model" / "previews").glob("step-*.png"))
    assert (root / "config" / "doppel" / "keys" / "local-ca.pem").exists()


@pytest.mark.slow
def test_demo_media_carry_their_labels(demo):
    from doppel.provenance import verify

    folder = demo[0] / "out"
    stills = verify(folder / "frames.png")
    assert stills.manifest.valid and stills.watermark.payload is not None
    assert verify(folder / "comparison.webm").watermark.payload is not None
    assert verify(folder / "timelapse.webp").watermark.payload is not None  # its first frame


@pytest.mark.slow
def test_report_renders_in_headless_chromium(demo):
    binary = chromium_or_skip()
    folder = demo[0] / "out"
    with Page(binary) as page:
        page.navigate((folder / "report.html").as_uri())
        state = page.evaluate("""new Promise(resolve => {
            const video = document.querySelector('video');
            const done = () => resolve({
                ready: video.readyState, width: video.videoWidth, duration: video.duration,
                error: video.error && video.error.code,
                metrics: document.querySelectorAll('#metrics tr').length,
                provenance: !!document.querySelector('#provenance'),
                detection: document.querySelectorAll('#detector tr').length,
                broken: [...document.images].filter(i => !i.complete || !i.naturalWidth)
                    .map(i => i.src)});
            if (video.readyState >= 2) done();
            else { video.addEventListener('loadeddata', done);
                   video.addEventListener('error', done); setTimeout(done, 15000); }
        })""")
        png = page.screenshot()
        errors = page.errors
    assert state["error"] is None and state["ready"] >= 2, state  # the WebM decodes here
    assert state["width"] == 4 * 256 and state["duration"] == pytest.approx(2.0, abs=0.1)
    assert state["metrics"] >= 10 and state["provenance"] and state["detection"] == 3, state
    assert state["broken"] == [], state
    assert errors == []
    shot = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    background = np.array([0xFA, 0xFA, 0xFA])
    drawn = (np.abs(shot - background).sum(axis=2) > 30).mean()
    assert shot.shape[0] > 2000 and drawn > 0.25, (shot.shape, drawn)


@pytest.mark.slow
def test_a_rerun_reuses_every_finished_stage(demo):
    root, _ = demo
    result = run_demo(root / "out", root / "config")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": reused (finished by an earlier run") == STAGES
    assert (root / "out" / "report.html").is_file()
