import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_make_demo_runs_what_exists_and_names_what_is_to_come(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}  # keys and ledger go here
    result = subprocess.run([sys.executable, "-m", "doppel", "demo"], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cut seconds 1-3: 60 frames, 2.000 s" in out
    offsets = [float(part.split()[0]) for part in out.split("offsets ")[1].split(" (")[0].split(",")]
    assert len(offsets) == 2 and all(abs(o) < 33.3 for o in offsets)
    assert "labelled.png: AI-generated (manifest + watermark)" in out
    assert "(watermark only; manifest stripped); ledger finds labelled.png" in out
    assert (tmp_path / "doppel" / "keys" / "local-ca.pem").exists()
    assert out.count("    AI-generated (manifest + watermark)") == 2  # the two actors' clips
    assert "contact-sheet.png: 6 actors" in out
    assert "kept 100 of 100 faces found in 100 frames" in out  # 4 s at 25 fps, one actor
    assert "identity; consent: synthetic (actor-" in out
    assert "classic swap of pool actor" in out and "swap-preview.png" in out
    assert "stopped by the time limit" in out and "model/previews/step-" in out
    assert "100 face(s) replaced in 100 of 100 frame(s)" in out  # the target actor's clip
    assert "swapped.mp4: AI-generated (manifest + watermark)" in out
    assert "swapped.preview-1.png, swapped.preview-2.png: input | output" in out
    assert "swapped.mp4: provenance AI-generated (manifest + watermark); forensic " in out
    assert "detect-swapped/report.json, heatmap.png" in out
    assert "Still to come" in out and "issue 6" in out
