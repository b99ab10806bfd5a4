"""Training augmentation: exact identities with every change off, the mirror image, geometry
shared by input, target and mask (a dot, and a coordinate ramp whose pixels say where they came
from), the warp's size, colour applied alike, determinism, and refused options."""

import dataclasses

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.train.augment import AugmentOptions, Batch, augment_batch, random_warp_maps

OFF = AugmentOptions(rotation=0.0, zoom=0.0, shift=0.0, flip=0.0, warp=0.0, brightness=0.0,
                     contrast=0.0, saturation=0.0)
GEOMETRY = dataclasses.replace(OFF, rotation=10.0, zoom=0.05, shift=0.05)


def random_batch(count: int = 4, size: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    masks = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
    return crops, masks


def as_float(crops):
    return crops.transpose(0, 3, 1, 2).astype(np.float32) / 255


def dot_batch(count: int = 8, size: int = 64):
    """Black crops with a white 3x3 dot off centre, and masks that are the same dot."""
    crops = np.zeros((count, size, size, 3), np.uint8)
    crops[:, 19:22, 40:43] = 255
    return crops, crops[..., 0].copy()


def centroid(image):
    """(x, y) of an (S, S) image's brightness."""
    ys, xs = np.mgrid[:image.shape[0], :image.shape[1]]
    return np.array([(xs * image).sum(), (ys * image).sum()]) / image.sum()


def ramp_batch(count: int = 8, size: int = 64):
    """Crops whose red is 4 x and green 4 y: a pixel's colour says where in the crop it was."""
    ys, xs = np.mgrid[:size, :size]
    crop = np.stack([xs * 4, ys * 4, np.zeros_like(xs)], axis=-1).astype(np.uint8)
    return np.repeat(crop[None], count, 0), np.full((count, size, size), 255, np.uint8)


def test_batch_has_the_promised_shapes_types_and_ranges():
    crops, masks = random_batch(count=5, size=64)
    batch = augment_batch(crops, masks, np.random.default_rng(1))
    assert isinstance(batch, Batch)
    assert batch.inputs.shape == batch.targets.shape == (5, 3, 64, 64)
    assert batch.masks.shape == (5, 1, 64, 64)
    for array in (batch.inputs, batch.targets, batch.masks):
        assert array.dtype == np.float32 and array.flags.c_contiguous
        assert array.min() >= 0.0 and array.max() <= 1.0
    assert batch.inputs.std() > 0.1  # not blank (resampled noise: std 0.29 -> about 0.2)


def test_same_seed_same_batch_other_seed_other_batch():
    crops, masks = random_batch()
    first = augment_batch(crops, masks, np.random.default_rng(7))
    again = augment_batch(crops, masks, np.random.default_rng(7))
    other = augment_batch(crops, masks, np.random.default_rng(8))
    for name in ("inputs", "targets", "masks"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.inputs, other.inputs)
    assert not np.array_equal(first.targets, other.targets)


def test_everything_off_gives_the_crops_back():
    crops, masks = random_batch()
    batch = augment_batch(crops, masks, np.random.default_rng(0), OFF)
    np.testing.assert_allclose(batch.targets, as_float(crops), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(batch.inputs, batch.targets)
    np.testing.assert_array_equal(batch.masks[:, 0], masks / np.float32(255))


def test_warp_alone_moves_only_the_input():
    crops, masks = random_batch()
    batch = augment_batch(crops, masks, np.random.default_rng(0),
                          dataclasses.replace(OFF, warp=1.0))
    np.testing.assert_allclose(batch.targets, as_float(crops), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(batch.masks[:, 0], masks / np.float32(255))
    changed = np.abs(batch.inputs - batch.targets).max(axis=(1, 2, 3))
    assert (changed > 0.2).all()  # every crop's input is warped


def test_flip_mirrors_target_and_mask_left_to_right():
    crops, masks = random_batch()
    batch = augment_batch(crops, masks, np.random.default_rng(0),
                          dataclasses.replace(OFF, flip=1.0))
    np.testing.assert_allclose(batch.targets, as_float(crops)[..., ::-1], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(batch.masks[:, 0], (masks / np.float32(255))[..., ::-1])
    np.testing.assert_array_equal(batch.inputs, batch.targets)


def test_geometry_is_shared_by_input_target_and_mask():
    crops, masks = dot_batch()
    original = centroid(masks[0].astype(np.float64))
    batch = augment_batch(crops, masks, np.random.default_rng(3), GEOMETRY)
    moved = []
    for index in range(len(crops)):
        target = centroid(batch.targets[index, 0].astype(np.float64))
        np.testing.assert_allclose(centroid(batch.masks[index, 0].astype(np.float64)), target,
                                   atol=1e-6)
        np.testing.assert_allclose(centroid(batch.inputs[index, 0].astype(np.float64)), target,
                                   atol=1e-6)
        moved.append(np.hypot(*(target - original)))
    # The dot is 21 px from the centre: 10 degrees, 5 % zoom and 3.2 px shifts move it by up
    # to about 9 px, and some crops by more than a pixel.
    assert max(moved) > 1.0 and max(moved) < 10.0


def test_warped_input_stays_near_the_target_with_geometry_on():
    crops, masks = dot_batch()
    batch = augment_batch(crops, masks, np.random.default_rng(4),
                          dataclasses.replace(GEOMETRY, warp=1.0))
    shifts = [np.hypot(*(centroid(batch.inputs[i, 0].astype(np.float64))
                         - centroid(batch.targets[i, 0].astype(np.float64))))
              for i in range(len(crops))]
    assert 0.1 < np.mean(shifts) < 6.4  # moved by the warp, but under S / 10


def test_affine_is_a_bounded_similarity_and_warp_composes_with_it():
    """Fit each target's ramp colours (where in the crop each pixel came from) against its
    pixel positions: a similarity whose angle and scale lie in the options' ranges. The
    input's colours say where its pixels came from too: the warp, mapped into the crop."""
    size = 64
    crops, masks = ramp_batch(size=size)
    options = dataclasses.replace(GEOMETRY, warp=1.0)
    batch = augment_batch(crops, masks, np.random.default_rng(5), options)
    ys, xs = np.mgrid[:size, :size]
    inner = slice(12, size - 12)  # away from the reflected border
    points = np.stack([xs[inner, inner].ravel(), ys[inner, inner].ravel(),
                       np.ones(xs[inner, inner].size)], axis=1)
    for index in range(len(crops)):
        source = batch.targets[index, :2, inner, inner].reshape(2, -1).T * 255 / 4
        matrix, *_ = np.linalg.lstsq(points, source, rcond=None)
        linear = matrix[:2].T  # target pixel -> crop pixel
        scale = np.sqrt(abs(np.linalg.det(linear)))
        angle = np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))
        assert 1 / 1.05 - 0.01 < scale < 1 / 0.95 + 0.01
        assert abs(angle) <= 10.5
        assert np.abs(points @ matrix - source).max() < 0.6  # affine: quantisation only
        warped = batch.inputs[index, :2, inner, inner].reshape(2, -1).T * 255 / 4
        move = np.hypot(*(warped - source).T)
        assert 0.2 < move.mean() < 6.4


def test_warp_maps_move_pixels_a_little_and_smoothly():
    size = 64
    ys, xs = np.mgrid[:size, :size].astype(np.float32)
    map_x, map_y = random_warp_maps(size, np.random.default_rng(0), 0.0)
    assert map_x.dtype == map_y.dtype == np.float32 and map_x.shape == (size, size)
    np.testing.assert_array_equal(map_x, xs)
    np.testing.assert_array_equal(map_y, ys)
    moves = []
    for seed in range(20):
        map_x, map_y = random_warp_maps(size, np.random.default_rng(seed), 1.0)
        move = np.hypot(map_x - xs, map_y - ys)
        moves.append(move.mean())
        # Smooth, never folding: neighbours move alike, so the map keeps the pixels' order.
        assert np.abs(np.diff(map_x - xs, axis=1)).max() < 0.9
        assert np.diff(map_x, axis=1).min() > 0 and np.diff(map_y, axis=0).min() > 0
        assert move.max() < size / 10
    assert 0.7 < np.mean(moves) < 2.5  # about 1.2 px at strength 1, S=64
    stronger = random_warp_maps(size, np.random.default_rng(0), 2.0)
    weaker = random_warp_maps(size, np.random.default_rng(0), 1.0)
    np.testing.assert_allclose(stronger[0] - xs, 2 * (weaker[0] - xs), atol=1e-4)


def test_colour_jitter_changes_input_and_target_alike():
    grey = np.full((6, 32, 32, 3), 128, np.uint8)
    grey[:, :, :16, 0] = 200  # some colour, so saturation has something to change
    masks = np.full((6, 32, 32), 255, np.uint8)
    options = dataclasses.replace(OFF, brightness=0.1, contrast=0.1, saturation=0.1)
    batch = augment_batch(grey, masks, np.random.default_rng(2), options)
    np.testing.assert_array_equal(batch.inputs, batch.targets)
    change = np.abs(batch.targets - as_float(grey)).max(axis=(1, 2, 3))
    assert (change > 1e-3).all() and (change < 0.35).all()
    assert len({round(float(v), 4) for v in batch.targets[:, 1, 0, 0]}) == 6  # one per crop
    np.testing.assert_array_equal(batch.masks, 1.0)


@pytest.mark.parametrize("name", ["rotation", "zoom", "shift", "flip", "warp", "brightness",
                                  "contrast", "saturation"])
def test_negative_options_are_refused(name):
    with pytest.raises(DoppelError, match=f"--{name}=-0.5 is out of range"):
        AugmentOptions(**{name: -0.5})


def test_impossible_options_are_refused():
    with pytest.raises(DoppelError, match="--flip=1.5 is out of range"):
        AugmentOptions(flip=1.5)
    with pytest.raises(DoppelError, match="--zoom"):
        AugmentOptions(zoom=1.0)  # a zero scale would collapse the crop


def test_mismatched_arrays_are_bugs():
    crops, masks = random_batch()
    with pytest.raises(ValueError, match="masks"):
        augment_batch(crops, masks[:, :32], np.random.default_rng(0))
    with pytest.raises(ValueError, match="crops"):
        augment_batch(crops.astype(np.float32), masks, np.random.default_rng(0))
