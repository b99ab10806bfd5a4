"""`doppel swap` end to end on small clips of synthetic actors with a (barely) trained model:
which faces it replaces, that every output is labelled, and what it refuses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from doppel.bench.extract import BENCH_WATERMARK_ID
from doppel.errors import DoppelError
from doppel.runtime import Runtime
from doppel.swap.commands import SwapConfig
from doppel.swap.run import swap_media
from doppel.synth.pool import POOL_SEEDS
from doppel.train.checkpoint import read_meta

QUIET = Runtime(progress=False)
FRAMES, FPS, SIZE = 8, 10.0, 256


def render_clip(path: Path, pool_index: int) -> Path:
    from doppel.bench.extract import write_clip
    from doppel.synth import generate_performance, random_actor, random_scene, render

    seed = POOL_SEEDS[pool_index]
    performance = generate_performance(FRAMES / FPS, FPS, seed + 1, max_yaw=20.0)
    pictures = [frame.rgb for frame in render(random_actor(seed), performance,
                                              random_scene(seed), SIZE)]
    return write_clip(path, pictures, FPS)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("swap-clips")
    # pool 1 is the model's target person (tests/conftest.py facesets); pool 4 a stranger
    return {"target": render_clip(folder / "target.mp4", 1),
            "stranger": render_clip(folder / "stranger.mp4", 4)}


def config(clip: Path, model: Path, output: Path, **changes) -> SwapConfig:
    return replace(SwapConfig(input=clip, model=model, output=output, colour="none",
                              mask="hull"), **changes)


def test_a_video_of_the_target_gets_every_face_replaced_and_labelled(clips, trained_model,
                                                                     tmp_path):
    from doppel.media import probe, read_frames
    from doppel.provenance import verify

    output = tmp_path / "swapped.mp4"
    summary = swap_media(config(clips["target"], trained_model, output), QUIET)
    assert (summary.frames, summary.faces_swapped, summary.frames_without_faces) == \
        (FRAMES, FRAMES, 0)
    assert probe(output).frame_count == FRAMES
    report = verify(output)
    assert report.manifest.valid and report.manifest.kind == "swap"
    assert report.manifest.model_id.startswith("doppel-df-tiny-")
    consents = read_meta(trained_model)["consents"]  # both people's, from their facesets
    assert set(report.manifest.consent_ids) == set(consents) and len(consents) == 2
    assert report.watermark.payload == report.manifest.watermark_id
    # the input (a doppel-made clip) was marked already: a second mark would cancel the
    # first, so the output keeps the input's
    assert report.watermark.payload == BENCH_WATERMARK_ID
    # the face changed, the corners (background, away from the visible label) did not
    before, after = (np.stack([frame.rgb for frame in read_frames(path)]).astype(int)
                     for path in (clips["target"], output))
    difference = np.abs(after - before).mean(axis=(0, 3))
    assert difference[96:160, 96:160].mean() > 4 * difference[:32, :32].mean() + 2


def test_a_cpu_swap_never_imports_torch(clips, trained_model, tmp_path):
    # torch's import costs ~2.3 s of CPU here: the CPU swap runs the numpy network instead.
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from doppel.runtime import Runtime; "
            "from doppel.swap.commands import SwapConfig; from doppel.swap.run import swap_media; "
            f"s = swap_media(SwapConfig(input=Path({str(clips['target'])!r}), "
            f"model=Path({str(trained_model)!r}), output=Path({str(tmp_path / 'o.mp4')!r})), "
            "Runtime(device='cpu', progress=False)); "
            "print(s.faces_swapped, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split()[-2:] == [str(FRAMES), "False"]


def test_a_stranger_is_left_alone_and_the_summary_says_why(clips, trained_model, tmp_path):
    summary = swap_media(config(clips["stranger"], trained_model, tmp_path / "out.mp4"), QUIET)
    assert summary.faces_swapped == 0 and summary.faces_left == FRAMES
    assert any("no face matched" in note for note in summary.notes)
    everyone = swap_media(config(clips["stranger"], trained_model, tmp_path / "all.mp4",
                                 face="all"), QUIET)
    assert everyone.faces_swapped == FRAMES


def test_pixels_no_one_changed_go_out_as_stored_but_for_the_watermark(clips, trained_model,
                                                                      tmp_path):
    # Faces left alone: x264 lossless shows the output is the input's own planes, the
    # chroma unchanged outside the label, the luma changed by the watermark's few levels.
    from doppel.media import WriterConfig, read_frames, yuv_planes
    from doppel.provenance import LabelConfig
    from doppel.provenance.label import label_box

    output = tmp_path / "lossless.mp4"
    swap_media(config(clips["stranger"], trained_model, output, video=WriterConfig(crf=0)),
               QUIET)
    x0, y0, x1, y1 = label_box(LabelConfig(), SIZE, SIZE)
    away = np.ones((SIZE, SIZE), bool)
    away[y0 - 2:y1 + 2, x0 - 2:x1 + 2] = False
    for before, after in zip(read_frames(clips["stranger"], keep_yuv=True),
                             read_frames(output, keep_yuv=True), strict=True):
        (y, u, v), (y2, u2, v2) = (yuv_planes(frame.yuv.planes) for frame in (before, after))
        assert np.array_equal(u[away[::2, ::2]], u2[away[::2, ::2]])
        assert np.array_equal(v[away[::2, ::2]], v2[away[::2, ::2]])
        change = np.abs(y.astype(int) - y2)[away]
        assert 0 < change.max() <= 8


def test_previews_show_input_and_output_side_by_side(clips, trained_model, tmp_path):
    from doppel.media import read_image
    from doppel.provenance import verify

    summary = swap_media(config(clips["target"], trained_model, tmp_path / "out.mp4",
                                preview=2), QUIET)
    assert [path.name for path in summary.written] == ["out.preview-1.png",
                                                       "out.preview-2.png"]
    assert not (tmp_path / "out.mp4").exists()
    picture = read_image(summary.written[0])
    assert picture.shape == (SIZE, 2 * SIZE, 3)
    assert verify(summary.written[0]).manifest.kind == "swap"


def test_a_real_photo_is_swapped_with_face_all(trained_model, tmp_path):
    from skimage import data

    from doppel.media import read_image, write_image
    from doppel.provenance import verify

    photo = write_image(tmp_path / "astronaut.png", data.astronaut())
    summary = swap_media(config(photo, trained_model, tmp_path / "out.png", face="all"), QUIET)
    assert summary.faces_swapped == 1
    assert read_image(tmp_path / "out.png").shape == data.astronaut().shape
    assert verify(tmp_path / "out.png").manifest.valid


def test_bad_input_is_refused_with_what_to_do(clips, trained_model, tmp_path):
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(DoppelError, match="--overwrite"):
        swap_media(config(clips["target"], trained_model, existing), QUIET)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(DoppelError, match="cannot be embedded in .webm"):  # unsigned: refused
        swap_media(config(clips["target"], trained_model, tmp_path / "o.webm"), QUIET)
    assert not (tmp_path / "o.webm").exists()
    with pytest.raises(DoppelError, match="no model in"):
        swap_media(config(clips["target"], tmp_path / "nothing", tmp_path / "o.mp4"), QUIET)
    with pytest.raises(DoppelError, match="does not exist"):
        swap_media(config(tmp_path / "missing.mp4", trained_model, tmp_path / "o.mp4"), QUIET)
    with pytest.raises(DoppelError, match="past the end"):
        swap_media(config(clips["target"], trained_model, tmp_path / "o.mp4", start=99.0),
                   QUIET)
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(DoppelError, match="--face"):
        SwapConfig(input=clips["target"], model=trained_model, output=tmp_path / "o.mp4",
                   face="left")
