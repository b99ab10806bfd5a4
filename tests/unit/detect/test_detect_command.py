"""`doppel detect` with the shipped detector: provenance and forensics reported apart, a
heatmap that points at the blend, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doppel.detect.forensic import SHIPPED, ForensicDetector
from doppel.detect.run import detect_media
from doppel.errors import DoppelError
from doppel.runtime import Runtime

QUIET = Runtime(progress=False)


@pytest.fixture(scope="module")
def held_out_faces():
    """Faces of pool actors (never trained on), as the detector sees them."""
    from doppel.detect.data import make_clip_faces, open_face_finder
    from doppel.synth.pool import POOL_SEEDS

    import doppel.detect.data as data

    rng = np.random.default_rng(11)
    marked, data.MARKED_SHARE = data.MARKED_SHARE, 0.0  # a random watermark id: not seeded
    try:
        with open_face_finder() as detector:
            return make_clip_faces(POOL_SEEDS[40], 2.0, None, "real", rng, detector, variant=2)
    finally:
        data.MARKED_SHARE = marked


def test_the_heatmap_points_at_the_blended_region(held_out_faces):
    from doppel.detect.sbi import self_blend

    detector = ForensicDetector()
    rng = np.random.default_rng(3)
    inside = []
    for crop, points in zip(held_out_faces.crops, held_out_faces.points):
        fake, weights = self_blend(crop, points, rng)
        heat = detector.heatmap(fake)
        blended = weights > 0.1
        inside.append((heat[blended].sum() / heat.sum(), blended.mean()))
    share, area = np.median(inside, axis=0)
    # Most of the map's mass lies in the blended region, which is about a third of the crop.
    assert share > 0.5 and share > 1.3 * area


def test_a_real_clip_and_its_report(tmp_path):
    from doppel.bench.extract import write_clip
    from doppel.synth import generate_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS

    seed = POOL_SEEDS[41]
    clip = write_clip(tmp_path / "real.mp4", (frame.rgb for frame in render(
        random_actor(seed), generate_performance(1.0, 10, seed, max_yaw=20),
        random_scene(seed), 256)), 10.0)
    report = detect_media(clip, 5, tmp_path / "out", False, QUIET)
    forensic = report["forensic"]
    assert report["provenance"]["verdict"]  # provenance is reported, apart
    assert forensic["frames_read"] == 5 and forensic["faces"] == 5
    assert len(forensic["tracks"]) == 1 and forensic["verdict"] in ("real", "inconclusive",
                                                                     "swapped")
    assert "synthetic" in forensic["note"] and "may differ" in forensic["note"]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["forensic"]["score"] == pytest.approx(forensic["score"])
    heatmap = tmp_path / "out" / "heatmap.png"
    from doppel.provenance import verify

    assert heatmap.is_file() and verify(heatmap).watermark.payload is not None
    only = detect_media(clip, 2, None, True, QUIET)
    assert "provenance" not in only and only["forensic"]["frames_read"] == 2
    # On the CPU the check runs without torch (its import costs ~2.3 s here), with the same
    # scores and report.
    import subprocess
    import sys

    code = ("import sys, json; from pathlib import Path; from doppel.runtime import Runtime; "
            "from doppel.detect.run import detect_media; "
            f"r = detect_media(Path({str(clip)!r}), 5, None, False, "
            "Runtime(device='cpu', progress=False)); "
            "print(json.dumps(r['forensic']['score']), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    score, imported = done.stdout.split()[-2:]
    assert imported == "False" and float(score) == pytest.approx(forensic["score"], abs=1e-6)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(DoppelError, match="does not exist"):
        detect_media(tmp_path / "missing.mp4", 0, None, True, QUIET)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DoppelError):
        detect_media(text, 0, None, True, QUIET)


def test_the_shipped_weights_are_small_fp16():
    assert SHIPPED.stat().st_size < 2_000_000 * 2 + 100_000
    assert ForensicDetector().meta["network"] == "doppel"
