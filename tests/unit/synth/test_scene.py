"""Scenes around synthetic actors: deterministic draws, a light that always lights the face,
backgrounds of the right character, and camera noise and compression of measurable size."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from doppel.synth.raster import Light
from doppel.synth.scene import (
    BACKGROUNDS, Scene, degrade_frame, light_from_angles, random_scene, render_background,
)

SEEDS = range(60)
MUTED = ((0.3, 0.32, 0.36), (0.5, 0.45, 0.4), (0.72, 0.64, 0.52))


def make_scene(background: str = "solid", noise: float = 0.0, degradation: float = 0.0,
               seed: int = 7) -> Scene:
    return Scene(background=background, colours=MUTED, light=Light(), noise=noise,
                 degradation=degradation, seed=seed)


def measure_luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def scenes_of(kind: str, count: int = 4) -> list[Scene]:
    return [scene for scene in map(random_scene, SEEDS) if scene.background == kind][:count]


def test_same_seed_same_scene_background_and_frame():
    first, again, other = random_scene(3), random_scene(3), random_scene(4)
    assert first == again and first != other
    for kind in BACKGROUNDS:
        scene = replace(first, background=kind)
        assert np.array_equal(render_background(scene, 64, 48), render_background(scene, 64, 48))
    frame = np.full((48, 64, 3), 120, np.uint8)
    scene = make_scene(noise=3.0, degradation=0.4)
    assert np.array_equal(degrade_frame(frame, scene, 5), degrade_frame(frame, scene, 5))
    assert not np.array_equal(degrade_frame(frame, scene, 5), degrade_frame(frame, scene, 6))
    assert not np.array_equal(degrade_frame(frame, scene, 5),
                              degrade_frame(frame, replace(scene, seed=8), 5))


@pytest.mark.parametrize("kind", ["gradient", "textured"])
def test_different_seeds_give_different_backgrounds(kind):
    first, second = (render_background(make_scene(kind, seed=seed), 64, 64) for seed in (1, 2))
    assert np.abs(first.astype(int) - second).mean() > 1.0


def test_random_scenes_are_plausible():
    scenes = [random_scene(seed) for seed in range(200)]
    assert {scene.background for scene in scenes} == set(BACKGROUNDS)
    for scene in scenes:
        assert 0.25 <= scene.light.ambient <= 0.5
        assert 0.0 <= scene.noise <= 4.0 and 0.0 <= scene.degradation <= 0.6
        assert max(scene.light.colour) == pytest.approx(1.0)
        assert min(scene.light.colour) > 0.65  # white, only tinted
        assert 1 <= len(scene.colours) <= 3


def test_light_is_never_behind_the_head():
    # raster.py: direction points towards the light, z away from the viewer, so a light in
    # front of the face has z < 0; y is down, so a light from above has y < 0.
    directions = np.array([random_scene(seed).light.direction for seed in range(300)])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    assert np.all(directions[:, 2] < -0.3)
    assert np.all(directions[:, 1] < 0.2)  # never much from below
    assert np.mean(directions[:, 1] < 0) > 0.7  # mostly from above
    assert np.any(directions[:, 0] < -0.3) and np.any(directions[:, 0] > 0.3)  # both sides


def test_light_from_angles_convention():
    np.testing.assert_allclose(light_from_angles(0, 0).direction, (0, 0, -1), atol=1e-12)
    np.testing.assert_allclose(light_from_angles(90, 0).direction, (1, 0, 0), atol=1e-12)
    np.testing.assert_allclose(light_from_angles(0, 90).direction, (0, -1, 0), atol=1e-12)
    light = light_from_angles(30, 20, (1.0, 0.9, 0.8), 0.4)
    assert light.colour == (1.0, 0.9, 0.8) and light.ambient == 0.4
    assert light.specular == Light().specular


def test_solid_background_is_flat():
    for scene in [make_scene("solid")] + scenes_of("solid"):
        background = render_background(scene, 80, 60)
        assert background.shape == (60, 80, 3) and background.dtype == np.uint8
        assert background.reshape(-1, 3).std(axis=0).max() < 0.5
        np.testing.assert_allclose(background[0, 0] / 255, scene.colours[0], atol=1 / 255)


def test_gradient_is_smooth_and_monotone_along_its_axis():
    for scene in [make_scene("gradient", seed=seed) for seed in range(3)] + scenes_of("gradient"):
        background = render_background(scene, 160, 120).astype(np.float64)
        for axis in (0, 1):
            assert np.abs(np.diff(background, n=2, axis=axis)).max() <= 2.0
        luma = measure_luma(background.astype(np.uint8))
        assert np.ptp(luma) > 8.0  # a visible gradient, not a solid
        # The ramp runs along an oblique axis, so luma is monotone along every row and column
        # (to within rounding).
        for axis in (0, 1):
            steps = np.diff(luma, axis=axis)
            assert np.all((steps >= -1.0).all(axis=axis) | (steps <= 1.0).all(axis=axis))


def test_texture_is_visible_but_low_frequency():
    for scene in [make_scene("textured", seed=seed) for seed in range(6)] + scenes_of("textured"):
        luma = measure_luma(render_background(scene, 256, 256))
        assert luma.std() > 4.0
        power = np.abs(np.fft.fft2(luma - luma.mean())) ** 2
        frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
        assert power[frequency < 0.06].sum() / power.sum() > 0.9


def test_background_is_the_same_picture_at_any_resolution():
    for kind in BACKGROUNDS:
        scene = make_scene(kind, seed=5)
        large = render_background(scene, 256, 192)
        small = render_background(scene, 128, 96)
        shrunk = cv2.resize(large, (128, 96), interpolation=cv2.INTER_AREA)
        assert np.abs(shrunk.astype(int) - small).mean() < 3.0


def test_degrade_is_identity_without_noise_or_degradation():
    frame = np.random.default_rng(0).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    degraded = degrade_frame(frame, make_scene(), 0)
    assert np.array_equal(degraded, frame) and degraded is not frame


@pytest.mark.parametrize("level", [1.0, 2.5, 4.0])
def test_noise_std_matches_the_request_on_mid_grey(level):
    frame = np.full((128, 128, 3), 128, np.uint8)
    noise = degrade_frame(frame, make_scene(noise=level), 1).astype(np.float64) - 128
    assert abs(noise.mean()) < 0.1
    np.testing.assert_allclose(noise.reshape(-1, 3).std(axis=0), level, rtol=0.08)
    correlation = np.corrcoef(noise.reshape(-1, 3).T)
    assert correlation[0, 1] > 0.7  # luma-dominant: channels move together
    assert correlation[0, 1] < 0.95  # but with some chroma


def test_noise_grows_with_the_signal():
    scene = make_scene(noise=3.0)
    dark, bright = (degrade_frame(np.full((96, 96, 3), value, np.uint8), scene, 0)
                    .astype(np.float64).std() for value in (30, 220))
    assert bright > 1.4 * dark > 0


def block_edge_ratio(rgb: npt.NDArray[np.uint8]) -> float:
    """Mean luma step across 8-pixel block boundaries over the mean step inside blocks."""
    steps = np.abs(np.diff(measure_luma(rgb), axis=1))
    across = steps[:, 7::8]
    inside = np.delete(steps, np.s_[7::8], axis=1)
    return float(across.mean() / inside.mean())


def measure_detail(rgb: npt.NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(measure_luma(rgb), cv2.CV_64F).var())


def test_degradation_softens_and_shows_blocks():
    smooth = render_background(make_scene("textured", seed=2), 256, 256)
    detailed = np.clip(smooth + np.random.default_rng(0).normal(0, 6, smooth.shape), 0, 255)
    detailed = detailed.astype(np.uint8)
    degraded = degrade_frame(smooth, make_scene(degradation=0.6), 0)
    assert block_edge_ratio(smooth) < 1.1
    assert block_edge_ratio(degraded) > 1.3
    assert measure_detail(degrade_frame(detailed, make_scene(degradation=0.6), 0)) < 0.5 * (
        measure_detail(detailed))
    light = measure_detail(degrade_frame(detailed, make_scene(degradation=0.1), 0))
    heavy = measure_detail(degrade_frame(detailed, make_scene(degradation=0.9), 0))
    assert heavy < light


@pytest.mark.parametrize("shape", [(1, 1, 3), (37, 53, 3), (120, 64, 3)])
def test_degrade_keeps_shape_and_dtype(shape):
    frame = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    for scene in (make_scene(noise=2.0), make_scene(degradation=0.5),
                  make_scene(noise=4.0, degradation=1.0)):
        degraded = degrade_frame(frame, scene, 3)
        assert degraded.shape == shape and degraded.dtype == np.uint8


def test_degrade_accepts_a_non_contiguous_frame():
    frame = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    scene = make_scene(noise=2.0, degradation=0.3)
    flipped = frame[:, ::-1]
    assert np.array_equal(degrade_frame(flipped, scene, 0),
                          degrade_frame(np.ascontiguousarray(flipped), scene, 0))


@pytest.mark.parametrize("change", [
    {"background": "plaid"}, {"colours": ()}, {"colours": ((0.1, 0.2, 0.3),) * 4},
    {"colours": ((1.2, 0.2, 0.3),)}, {"noise": -1.0}, {"degradation": 1.5}, {"seed": -1},
])
def test_scene_rejects_bad_values(change):
    with pytest.raises(ValueError):
        replace(make_scene(), **change)
