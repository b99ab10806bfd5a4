"""The trainer on two small facesets of synthetic actors: it learns, saves, previews, resumes
to the step, stops cleanly on Ctrl-C, and refuses what it cannot train on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from dataclasses import replace

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.runtime import Runtime
from doppel.train.checkpoint import read_meta
from doppel.train.trainer import TrainConfig, train

QUIET = Runtime(progress=False)


def config(facesets, output, **changes) -> TrainConfig:
    return replace(TrainConfig(source=facesets["source"], target=facesets["target"],
                               output=output, batch=16, save_every=1000, preview_every=1000),
                   **changes)


def losses(folder) -> list[float]:
    lines = (folder / "log.jsonl").read_text().splitlines()
    return [json.loads(line)["loss_source"] + json.loads(line)["loss_target"] for line in lines]


def test_a_short_run_lowers_the_loss_and_leaves_a_described_model(facesets, tmp_path):
    summary = train(config(facesets, tmp_path / "model", steps=40, preview_every=40), QUIET)
    assert (summary.first_step, summary.last_step) == (0, 40)
    history = losses(tmp_path / "model")
    assert len(history) == 40
    assert np.mean(history[-5:]) < 0.95 * np.mean(history[:5]), history
    meta = read_meta(tmp_path / "model")
    assert meta["step"] == 40 and meta["architecture"] == "df" and meta["resolution"] == 64
    assert {side: len(meta["identities"][side]["consents"]) for side in ("source", "target")} \
        == {"source": 1, "target": 1}
    assert set(meta["consents"]) == {c for side in ("source", "target")
                                     for c in meta["identities"][side]["consents"]}


def test_previews_are_labelled_generated_images(facesets, tmp_path):
    from doppel.media import read_image
    from doppel.provenance import verify

    train(config(facesets, tmp_path / "model", steps=2, preview_every=2), QUIET)
    preview = tmp_path / "model" / "previews" / "step-0000002.png"
    assert read_image(preview).shape == (3 * 128, 4 * 256, 3)
    assert verify(preview).watermark.payload is not None


def test_resuming_continues_the_same_steps_exactly(facesets, tmp_path):
    import torch

    from doppel.train.checkpoint import load_weights
    from doppel.train.models import ModelOptions, build_model

    straight = tmp_path / "straight"
    train(config(facesets, straight, steps=12), QUIET)
    resumed = tmp_path / "resumed"
    train(config(facesets, resumed, steps=7), QUIET)
    summary = train(config(facesets, resumed, steps=12), QUIET)
    assert (summary.first_step, summary.last_step) == (7, 12)
    assert losses(resumed) == pytest.approx(losses(straight), rel=1e-4)
    weights = []
    for folder in (straight, resumed):
        model = build_model(ModelOptions())
        load_weights(folder, model)
        weights.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-6)


def test_the_adversarial_stage_resumes_exactly_and_its_critic_learns(facesets, tmp_path):
    plain = tmp_path / "plain"
    # 2e-4: at the default 4e-4 the generator keeps this 10-step critic at chance (0.500)
    train(config(facesets, plain, steps=4, learning_rate=2e-4), QUIET)
    copies = {}
    for name in ("straight", "resumed"):
        copies[name] = tmp_path / name
        shutil.copytree(plain, copies[name])
    slower = {"gan_weight": 0.1, "learning_rate": 2e-4}
    train(config(facesets, copies["straight"], steps=14, **slower), QUIET)
    train(config(facesets, copies["resumed"], steps=9, **slower), QUIET)
    train(config(facesets, copies["resumed"], steps=14, **slower), QUIET)
    lines = [json.loads(line) for line in
             (copies["straight"] / "log.jsonl").read_text().splitlines()]
    assert "adversarial" not in str(lines[3]) and "loss_adversarial" in lines[4]
    assert losses(copies["resumed"]) == pytest.approx(losses(copies["straight"]), rel=1e-4)
    # The critic tells reconstructions from faces better than chance by the end (LSGAN: a
    # critic that says 0.5 to everything scores 0.5).
    assert np.mean([line["loss_discriminator"] for line in lines[-3:]]) < 0.5


def test_colour_transfer_moves_source_faces_to_target_colours():
    from doppel.train.augment import transfer_colours

    rng = np.random.default_rng(0)
    crops = np.full((4, 32, 32, 3), (200, 150, 120), np.uint8)
    crops[:, :, :16] = (180, 130, 100)  # some spread to scale
    references = np.full((2, 32, 32, 3), (90, 110, 160), np.uint8)
    references[:, :, :16] = (70, 90, 140)
    masks = np.full((4, 32, 32), 255, np.uint8)
    moved = transfer_colours(crops, masks, references, masks[:2], rng, 1.0)
    assert np.abs(moved.reshape(-1, 3).mean(0) - references.reshape(-1, 3).mean(0)).max() < 3
    kept = transfer_colours(crops, masks, references, masks[:2], rng, 0.0)
    assert kept is crops


def test_ctrl_c_stops_after_the_step_and_saves(facesets, tmp_path):
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        summary = train(config(facesets, tmp_path / "model"), QUIET)  # no limit but Ctrl-C
    finally:
        timer.cancel()
    assert summary.stopped_by == "Ctrl-C" and summary.last_step > 0
    assert read_meta(tmp_path / "model")["step"] == summary.last_step


def test_a_time_budget_stops_the_run(facesets, tmp_path):
    summary = train(config(facesets, tmp_path / "model", minutes=0.05), QUIET)
    assert summary.stopped_by == "the time limit" and 2.5 < summary.seconds < 10


def test_a_faceset_without_consent_is_refused(facesets, make_faceset, tmp_path):
    unconsented = make_faceset(tmp_path / "nobody", 2, faces=2, consent=False)
    with pytest.raises(DoppelError, match="no consent record.*--consent"):
        train(config(facesets, tmp_path / "model", steps=1, target=unconsented), QUIET)
    assert not (tmp_path / "model").exists()


def test_missing_empty_or_too_narrow_facesets_are_refused(facesets, make_faceset, tmp_path):
    from doppel.faceset import open_faceset
    from doppel.types import Consent

    with pytest.raises(DoppelError, match="does not exist or is not a faceset"):
        train(config(facesets, tmp_path / "m", steps=1, source=tmp_path / "nowhere"), QUIET)
    with open_faceset(tmp_path / "empty", create=True) as faceset:
        faceset.add_consent(Consent("x", "synthetic identity", "2026-11-26", "synthetic"))
    with pytest.raises(DoppelError, match="holds no faces"):
        train(config(facesets, tmp_path / "m", steps=1, target=tmp_path / "empty"), QUIET)
    other = make_faceset(tmp_path / "face", 2, faces=2)
    _reframe(other, "face")
    with pytest.raises(DoppelError, match="target faceset .* extract the faces again with "
                                          "--coverage whole-face"):
        train(config(facesets, tmp_path / "m", steps=1, target=other,
                     coverage="whole-face"), QUIET)


def test_the_model_trains_at_its_own_coverage_cut_from_wider_facesets(facesets,
                                                                      make_faceset, tmp_path):
    other = make_faceset(tmp_path / "face", 2, faces=2)
    _reframe(other, "face")  # a faceset of face crops with one of whole-face crops
    train(config(facesets, tmp_path / "m", steps=1, target=other), QUIET)
    assert read_meta(tmp_path / "m")["coverage"] == "face"
    train(config(facesets, tmp_path / "wide", steps=1, coverage="whole-face"), QUIET)
    assert read_meta(tmp_path / "wide")["coverage"] == "whole-face"
    with pytest.raises(DoppelError, match="resume with --coverage whole-face"):
        train(config(facesets, tmp_path / "wide", steps=2), QUIET)


def test_resuming_with_another_architecture_is_refused(facesets, tmp_path):
    train(config(facesets, tmp_path / "model", steps=1), QUIET)
    with pytest.raises(DoppelError, match="--architecture df --preset tiny"):
        train(config(facesets, tmp_path / "model", steps=2, architecture="liae"), QUIET)


def _reframe(folder, coverage: str) -> None:
    """Relabel a faceset's crops as another coverage (its index's own column)."""
    import sqlite3

    with sqlite3.connect(folder / "index.sqlite") as connection:
        connection.execute("UPDATE faces SET coverage = ?", (coverage,))


def test_bf16_is_chosen_where_it_was_measured_faster_or_when_asked():
    from doppel.train.trainer import use_bf16

    assert use_bf16("auto", "cuda", "hq")
    assert not use_bf16("auto", "cuda", "tiny")
    assert not use_bf16("auto", "cpu", "hq")
    assert use_bf16("bf16", "cpu", "tiny") and not use_bf16("fp32", "cuda", "hq")


def test_a_bf16_run_learns_in_float32_weights(facesets, tmp_path):
    from safetensors.numpy import load_file

    train(config(facesets, tmp_path / "model", steps=3, batch=4, precision="bf16"), QUIET)
    history = losses(tmp_path / "model")
    assert len(history) == 3 and all(np.isfinite(history))
    weights = load_file(tmp_path / "model" / "model.safetensors")
    assert {array.dtype for array in weights.values()} == {np.dtype(np.float32)}


def test_resuming_with_another_learning_rate_uses_it(facesets, tmp_path):
    import torch

    train(config(facesets, tmp_path / "model", steps=2, learning_rate=2e-4), QUIET)
    train(config(facesets, tmp_path / "model", steps=3, learning_rate=5e-5), QUIET)
    state = torch.load(tmp_path / "model" / "train-state.pt", weights_only=True)
    assert {group["lr"] for group in state["optimizer"]["param_groups"]} == {5e-5}
