"""The forensic networks, their training loop and the report's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doppel.detect.forensic import ForensicDetector, roc_auc
from doppel.detect import INPUT_SIZE
from doppel.detect.model import DETECTORS, build_detector
from doppel.detect.run import FaceScore, ForensicReport
from doppel.errors import DoppelError
from doppel.runtime import Runtime


@pytest.mark.parametrize("name", DETECTORS.names())
def test_networks_are_small_and_give_one_logit_a_face(name):
    network = build_detector(name).eval()
    assert sum(p.numel() for p in network.parameters()) <= 2_000_000
    with torch.inference_mode():
        assert network(torch.rand(3, 3, INPUT_SIZE, INPUT_SIZE)).shape == (3,)


@pytest.mark.parametrize("name", DETECTORS.names())
def test_the_numpy_network_scores_and_differentiates_as_torch_does(name):
    """`doppel detect` runs the network in numpy on the CPU: the same logits, and the same
    gradient over the pixels (the heatmap's source), flat patches' tied maxima included."""
    from doppel.detect.numpy_forensic import POOLS, NumpyForensicNet
    from doppel.detect.model import MesoNet

    assert POOLS == MesoNet.POOLS
    torch.manual_seed(0)
    network = build_detector(name).eval()
    for module in network.modules():  # batch norm statistics as training would leave them
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(-1.5, 1.5)
    ours = NumpyForensicNet({key: value.numpy() for key, value in network.state_dict().items()})
    crops = np.random.default_rng(0).integers(0, 256, (3, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    crops[:, :40, :40] = 128  # flat: maxima tie
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255).requires_grad_(True)
    logits = network(images)
    np.testing.assert_allclose(ours.forward(crops), logits.detach().numpy(), atol=1e-4)
    (gradient,) = torch.autograd.grad(logits[1], images)
    expected = gradient[1].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours.input_gradient(crops[1]), expected,
                               atol=1e-5 * np.abs(expected).max())


def test_calibration_makes_probabilities_match_what_held_out_faces_are():
    from doppel.detect.train import fit_calibration

    rng = np.random.default_rng(1)
    swapped = rng.random(4000) < 0.3
    # classes at -1.5 and +1.5 with unit noise: the true log odds (equal priors) are 3x; a
    # network's raw logits 2x + 2 lean "swapped", so calibration is 1.5 raw - 3
    x = np.where(swapped, 1.5, -1.5) + rng.normal(0, 1.0, 4000)
    raw = 2 * x + 2
    fitted = fit_calibration(raw, swapped)
    assert fitted["scale"] == pytest.approx(1.5, rel=0.1)
    assert fitted["shift"] == pytest.approx(-3.0, rel=0.1)
    calibrated = 1 / (1 + np.exp(-(fitted["scale"] * raw + fitted["shift"])))
    # real and swapped weigh the same: the threshold sits between the classes
    assert np.mean(calibrated[~swapped] >= 0.5) == pytest.approx(
        np.mean(calibrated[swapped] < 0.5), abs=0.03)
    with pytest.raises(DoppelError, match="real and swapped"):
        fit_calibration(raw[:10], np.zeros(10, bool))


def test_roc_auc_is_the_chance_a_swap_outscores_a_real_face():
    rng = np.random.default_rng(0)
    scores, swapped = rng.random(40), rng.random(40) < 0.5
    pairs = [(a > b) + 0.5 * (a == b) for a in scores[swapped] for b in scores[~swapped]]
    assert roc_auc(scores, swapped) == pytest.approx(np.mean(pairs))
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert np.isnan(roc_auc([0.1, 0.2], [False, False]))


def test_the_file_score_is_the_most_suspicious_tracks_median():
    report = ForensicReport()
    for frame, (real, fake) in enumerate([(0.1, 0.9), (0.2, 0.8), (0.9, 0.1), (0.1, 0.95)]):
        report.faces += [FaceScore(frame, 0, (0, 0, 1, 1), real),
                         FaceScore(frame, 1, (0, 0, 1, 1), fake)]
    report.faces.append(FaceScore(4, 2, (0, 0, 1, 1), 1.0))  # one frame: outvoted
    assert report.score() == pytest.approx(0.85)  # track 1: median of .9 .8 .1 .95
    assert report.verdict() == "swapped"
    calm = ForensicReport([FaceScore(frame, 0, (0, 0, 1, 1), 0.5) for frame in range(5)])
    assert calm.verdict() == "inconclusive"
    assert ForensicReport().verdict() == "no face found"


def test_a_short_training_run_writes_weights_the_detector_loads(tmp_path):
    from doppel.detect.train import DetectorTrainConfig, train_detector

    config = DetectorTrainConfig(output=tmp_path / "det", actors=2, calibration_actors=2,
                                 seconds=0.3, steps=2, batch=4)
    summary = train_detector(config, Runtime(progress=False))
    assert summary.steps == 2 and summary.faces > 0
    detector = ForensicDetector(tmp_path / "det" / "detector.safetensors")
    assert detector.meta["network"] == "doppel" and "synthetic" in detector.meta["trained_on"]
    crops = np.zeros((2, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    assert detector.score(crops).shape == (2,)
    assert detector.heatmap(crops[0]).shape == (INPUT_SIZE, INPUT_SIZE)
    assert set(detector.meta["calibration"]) == {"scale", "shift"}
    # the faces are cached: a second run starts training at once from the same faces
    again = train_detector(config, Runtime(progress=False))
    assert again.faces == summary.faces


def test_missing_or_foreign_weights_are_refused(tmp_path):
    with pytest.raises(DoppelError, match="no detector weights"):
        ForensicDetector(tmp_path / "none.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"not a safetensors file")
    with pytest.raises(DoppelError, match="not a doppel detector"):
        ForensicDetector(foreign)
    import safetensors
    import safetensors.numpy

    from doppel.detect.forensic import SHIPPED

    with safetensors.safe_open(str(SHIPPED), framework="numpy") as handle:
        meta = handle.metadata()
    tensors = safetensors.numpy.load_file(str(SHIPPED))
    del tensors["features.3.2.running_var"]
    safetensors.numpy.save_file(tensors, str(tmp_path / "partial.safetensors"), metadata=meta)
    with pytest.raises(DoppelError, match="does not fit the detector's network"):
        ForensicDetector(tmp_path / "partial.safetensors")


def test_the_benchmarks_tables_are_written_from_its_results():
    """A 33-minute `doppel bench detect` once lost its numbers to a formatting error here."""
    from doppel.bench._report import machine_facts
    from doppel.bench.detect import format_markdown, format_table

    row = {"auc": {"classic crf 18": 0.93, "tiny crf 18": 0.99},
           "video_accuracy": {"crf 18": 0.8, "crf 28": 0.79}, "false_positive_faces": 0.35,
           "false_positive_clips": 0.19,
           "reliability": [{"from": 0.0, "to": 0.1, "faces": 3, "swapped_share": None}]}
    results = {"machine": machine_facts("detect", True), "faces": {"real crf 18": 4},
               "detectors": {"doppel": row, "meso4": row}, "wall_seconds": 12.0,
               "speed": {"faces_per_second": 32.0, "clip": "720p", "faces": 100,
                         "seconds": 3.1}}
    markdown = format_markdown(results)
    assert markdown.startswith("# detect benchmark") and "| meso4 | 0.9300 | 0.9900 |" in markdown
    assert "32.0 faces/s" in format_table(results)
