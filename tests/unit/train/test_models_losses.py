"""The registered networks (every architecture x preset) and the training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doppel.errors import DoppelError
from doppel.train.losses import LossOptions, face_loss, ssim_map
from doppel.train.models import ARCHITECTURES, PRESETS, ModelOptions, build_model, \
    count_parameters


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
@pytest.mark.parametrize("preset", list(PRESETS))
def test_networks_rebuild_and_swap_at_their_resolution(architecture, preset):
    torch.manual_seed(0)
    model = build_model(ModelOptions(architecture, preset)).eval()
    side = PRESETS[preset].resolution
    faces = torch.rand(2, 3, side, side)
    with torch.no_grad():
        rgb, mask = model.reconstruct(faces, "target")
        own, _ = model.reconstruct(faces, "source")
        swapped, _ = model.swap(faces)
    assert rgb.shape == (2, 3, side, side) and mask.shape == (2, 1, side, side)
    assert 0 <= float(rgb.min()) and float(rgb.max()) <= 1
    assert torch.equal(swapped, own)  # a swap is the target's face drawn as the source
    assert not torch.equal(rgb, own)  # ... which is not the target's own decoding


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
def test_both_sides_in_one_pass_equal_each_side_alone(architecture):
    torch.manual_seed(0)
    model = build_model(ModelOptions(architecture, "tiny")).eval()
    source, target = torch.rand(3, 3, 64, 64), torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        both = model.reconstruct_both(source, target)
        alone = model.reconstruct(source, "source"), model.reconstruct(target, "target")
    for (rgb, mask), (rgb_alone, mask_alone) in zip(both, alone):
        torch.testing.assert_close(rgb, rgb_alone, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mask, mask_alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
def test_tiny_stays_under_three_million_parameters(architecture):
    assert count_parameters(build_model(ModelOptions(architecture, "tiny"))) <= 3_000_000


def test_unknown_architectures_and_presets_are_refused():
    with pytest.raises(DoppelError):
        ModelOptions("gan", "tiny")  # not one of the Literal's choices
    with pytest.raises(DoppelError):
        ModelOptions("df", "huge")
    with pytest.raises(DoppelError, match="unknown architecture"):
        ARCHITECTURES.get("gan")


def test_ssim_matches_scikit_image_inside_the_borders():
    metrics = pytest.importorskip("skimage.metrics")
    generator = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 48, 48, generator=generator)
    b = (a + 0.1 * torch.randn(1, 3, 48, 48, generator=generator)).clamp(0, 1)
    ours = ssim_map(a, b)[0].permute(1, 2, 0).numpy()
    theirs = metrics.structural_similarity(
        a[0].permute(1, 2, 0).numpy(), b[0].permute(1, 2, 0).numpy(), channel_axis=2,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        full=True)[1]
    np.testing.assert_allclose(ours[6:-6, 6:-6], theirs[6:-6, 6:-6], atol=1e-5)
    assert float(ssim_map(a, a).min()) == pytest.approx(1.0, abs=1e-5)


def test_ssims_written_out_gradient_is_the_true_one_for_both_pictures():
    # ssim_map's backward is written by hand: compare it with finite differences.
    generator = torch.Generator().manual_seed(2)
    a, b = (torch.rand(2, 3, 13, 11, generator=generator, dtype=torch.float64,
                       requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(ssim_map, (a, b))
    b_only = b.detach().requires_grad_()
    (grad,) = torch.autograd.grad(ssim_map(a.detach(), b_only).sum(), b_only)
    assert grad.abs().max() > 0


def test_the_loss_looks_at_the_face_and_most_at_eyes_and_mouth():
    target = torch.full((1, 3, 32, 32), 0.5)
    hull = torch.zeros(1, 1, 32, 32)
    hull[..., 8:24, 8:24] = 1
    parts = torch.zeros(1, 1, 32, 32)
    parts[..., 12:16, 12:20] = 1
    masks = torch.cat([hull, parts], 1)
    def loss_with_error_at(rows, cols, options):
        predicted = target.clone()
        predicted[..., rows, cols] = 1.0
        return float(face_loss(predicted, hull, target, masks, options))

    l1 = LossOptions(ssim_weight=0.0, mask_weight=0.0)
    assert loss_with_error_at(slice(0, 4), slice(0, 4), l1) == 0.0  # off the face
    on_face = loss_with_error_at(slice(18, 22), slice(12, 20), l1)
    on_parts = loss_with_error_at(slice(12, 16), slice(12, 20), l1)
    assert on_face > 0 and on_parts == pytest.approx(3 * on_face)  # parts_weight 3
    both = LossOptions(mask_weight=0.0)
    assert loss_with_error_at(slice(0, 4), slice(0, 4), both) == pytest.approx(0.0, abs=1e-6)
    assert loss_with_error_at(slice(12, 16), slice(12, 20), both) > \
        1.3 * loss_with_error_at(slice(18, 22), slice(12, 20), both)
    mask_only = LossOptions(ssim_weight=0.0, l1_weight=0.0)
    assert float(face_loss(target, hull, target, masks, mask_only)) == 0.0
    assert float(face_loss(target, 1 - hull, target, masks, mask_only)) == pytest.approx(1.0)
