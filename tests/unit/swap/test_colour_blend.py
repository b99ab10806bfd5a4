"""Colour transfers and blends on small made-up pictures with known statistics."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.swap import BLENDS, COLOUR_TRANSFERS, blend_face, match_colour

SIZE = 96


def noise_picture(seed: int, mean: tuple[float, float, float], spread: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.normal(0.0, 1.0, (SIZE, SIZE, 3)), (0, 0), 2.0)
    picture = np.asarray(mean) + spread * smooth / smooth.std()
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


def disc_mask(radius: float = 30.0, centre: tuple[float, float] = (48, 48)) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE]
    inside = (cols - centre[0]) ** 2 + (rows - centre[1]) ** 2 <= radius ** 2
    return np.where(inside, 255, 0).astype(np.uint8)


def lab_stats(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[mask > 127].astype(np.float64)
    return lab.mean(axis=0), lab.std(axis=0)


SOURCE = noise_picture(1, (170, 120, 100), 12.0)
TARGET = noise_picture(2, (110, 100, 120), 20.0)


def test_registries_list_their_names_and_refuse_unknown_ones():
    assert COLOUR_TRANSFERS.names() == ["histogram", "none", "reinhard"]
    assert BLENDS.names() == ["alpha", "laplacian", "poisson"]
    with pytest.raises(DoppelError, match="unknown colour transfer"):
        match_colour("magic", SOURCE, TARGET, disc_mask())
    with pytest.raises(DoppelError, match="unknown blend"):
        blend_face("magic", SOURCE, TARGET, disc_mask())


def test_none_is_identity():
    assert np.array_equal(match_colour("none", SOURCE, TARGET, disc_mask()), SOURCE)


def test_reinhard_moves_lab_mean_and_std_and_leaves_the_outside():
    mask = disc_mask()
    output = match_colour("reinhard", SOURCE, TARGET, mask)
    mean, std = lab_stats(output, mask)
    target_mean, target_std = lab_stats(TARGET, mask)
    assert np.abs(mean - target_mean).max() < 1.5
    assert np.abs(std - target_std).max() < 1.5
    assert np.array_equal(output[mask == 0], SOURCE[mask == 0])


def test_histogram_matches_each_channel_inside_the_mask():
    mask = disc_mask()
    output = match_colour("histogram", SOURCE, TARGET, mask)
    region = mask > 127
    for channel in range(3):
        matched = np.sort(output[region, channel].astype(float))
        reference = np.sort(TARGET[region, channel].astype(float))
        before = np.sort(SOURCE[region, channel].astype(float))
        assert np.abs(matched - reference).mean() < 1.0 < np.abs(before - reference).mean()
    assert np.array_equal(output[~region], SOURCE[~region])


def test_alpha_with_full_mask_is_the_face_and_with_empty_mask_the_frame():
    full = np.full((SIZE, SIZE), 255, dtype=np.uint8)
    assert np.array_equal(blend_face("alpha", SOURCE, TARGET, full), SOURCE)
    assert np.array_equal(blend_face("alpha", SOURCE, TARGET, np.zeros_like(full)), TARGET)


@pytest.mark.parametrize("name", ["alpha", "laplacian", "poisson"])
def test_blend_keeps_the_frame_far_from_the_mask(name):
    mask = disc_mask(radius=20.0)
    output = blend_face(name, SOURCE, TARGET, mask)
    far = cv2.dilate(mask, np.ones((15, 15), np.uint8)) == 0
    assert np.array_equal(output[far], TARGET[far])


def test_laplacian_gives_the_face_inside_and_no_seam_at_the_edge():
    mask = disc_mask(radius=30.0)
    output = blend_face("laplacian", SOURCE, TARGET, mask).astype(np.float64)
    inside = cv2.erode(mask, np.ones((17, 17), np.uint8)) > 127
    assert np.abs(output[inside] - SOURCE[inside]).mean() < 3.0
    # across the edge the picture changes no more abruptly than alpha's feather allows
    alpha = blend_face("alpha", SOURCE, TARGET, mask).astype(np.float64)
    edge = (cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 127) & \
        (cv2.erode(mask, np.ones((5, 5), np.uint8)) <= 127)

    def jumps(picture: np.ndarray) -> float:
        return float(np.abs(np.diff(picture.mean(axis=2), axis=1))[edge[:, 1:]].mean())

    assert jumps(output) <= 1.2 * jumps(alpha)


def test_poisson_keeps_the_face_gradients_inside_the_mask():
    mask = disc_mask(radius=30.0)
    output = blend_face("poisson", SOURCE, TARGET, mask).astype(np.float64)
    interior = cv2.erode(mask, np.ones((9, 9), np.uint8)) > 127

    def gradients(picture: np.ndarray) -> np.ndarray:
        grey = picture.astype(np.float64).mean(axis=2)
        return np.stack([np.diff(grey, axis=0)[:, :-1], np.diff(grey, axis=1)[:-1]])[
            :, interior[:-1, :-1]]

    face, frame, blended = gradients(SOURCE), gradients(TARGET), gradients(output)
    assert np.abs(blended - face).mean() < 0.3 * np.abs(frame - face).mean()


@pytest.mark.parametrize("name", ["alpha", "laplacian", "poisson"])
@pytest.mark.parametrize("centre", [(5, 48), (90, 90), (48, 48)])
def test_masks_touching_the_border_do_not_crash(name, centre):
    mask = disc_mask(radius=40.0 if centre == (48, 48) else 20.0, centre=centre)
    mask[:, :3] = 255 if centre == (48, 48) else mask[:, :3]
    output = blend_face(name, SOURCE, TARGET, mask)
    assert output.shape == TARGET.shape and output.dtype == np.uint8
    assert np.abs(output[mask > 127].astype(float) - TARGET[mask > 127]).mean() > 5.0
    full = np.full((SIZE, SIZE), 255, dtype=np.uint8)
    assert blend_face(name, SOURCE, TARGET, full).shape == TARGET.shape
