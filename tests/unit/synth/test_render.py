"""The truth contract of rendered synthetic actors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from doppel.synth import (Clip, generate_performance, neutral_performance, random_actor,
                          random_scene, render, render_swap_truth)
from doppel.synth.actor import GLASSES, HAIR, IRIS, MOUTH, SKIN

SIZE = 256


@pytest.fixture(scope="module")
def renderer_available():
    from doppel.errors import DoppelError
    from doppel.synth.raster import Renderer

    try:
        Renderer(16, 16).close()
    except DoppelError as error:
        pytest.skip(f"no OpenGL context: {error}")


def frames_of(actor_seed: int, performance, scene_seed: int = 1, size: int = SIZE):
    return list(render(random_actor(actor_seed), performance, random_scene(scene_seed), size))


def inter_ocular(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[468] - landmarks[473]))


def test_landmarks_land_on_the_features_they_name(renderer_available):
    performance = neutral_performance(1, 25.0)
    [frame] = frames_of(3, performance)
    x, y = np.rint(frame.landmarks).astype(int).T
    assert frame.parts[y[4], x[4]] == SKIN  # nose tip
    assert frame.parts[y[468], x[468]] == IRIS and frame.parts[y[473], x[473]] == IRIS
    assert frame.face_mask[y[4], x[4]] == 255
    assert frame.visible[[1, 4, 13, 14, 33, 133, 263, 362, 468, 473]].all()
    assert frame.visible.mean() > 0.9
    assert 30 < inter_ocular(frame.landmarks) < 60


def test_a_turned_head_hides_its_far_cheek(renderer_available):
    performance = replace(neutral_performance(1, 25.0), yaw=np.array([45.0], np.float32))
    [frame] = frames_of(3, performance)
    # yaw > 0 turns the actor to their left: the nose tip moves to the image's right and
    # their left cheek's edge (mediapipe 454, the image's right) turns away from the camera
    [frontal] = frames_of(3, neutral_performance(1, 25.0))
    assert frame.landmarks[4, 0] > frontal.landmarks[4, 0] + 10
    assert not frame.visible[454] and frame.visible[234]


def test_open_mouth_shows_the_cavity_between_the_lips(renderer_available):
    performance = replace(neutral_performance(1, 25.0), jaw_open=np.ones(1, np.float32))
    [frame] = frames_of(3, performance)
    middle = np.rint((frame.landmarks[13] + frame.landmarks[14]) / 2).astype(int)
    assert frame.landmarks[14, 1] - frame.landmarks[13, 1] > 4  # lips apart, lower below
    assert frame.parts[middle[1], middle[0]] == MOUTH


def test_rendering_is_deterministic(renderer_available):
    performance = generate_performance(0.2, 25.0, seed=5)
    dressed = replace(random_actor(7), hair_style="long", beard="full", glasses="round")
    first, second = (list(render(dressed, performance, random_scene(1), SIZE)) for _ in range(2))
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.landmarks, b.landmarks)
        assert np.array_equal(a.parts, b.parts)
    other = frames_of(8, performance)
    assert not np.array_equal(first[0].landmarks, other[0].landmarks)


PLAIN = {"hair_style": "bald", "beard": "none", "glasses": "none"}
LOOKS = [("hair_style", style) for style in ("buzz", "short", "medium", "long", "bun")] + [
    ("beard", style) for style in ("stubble", "moustache", "full")] + [
    ("glasses", style) for style in ("round", "rectangular")]


@pytest.fixture(scope="module")
def plain_frame(renderer_available):
    [frame] = render(replace(random_actor(6), **PLAIN), neutral_performance(1, 25.0),
                     random_scene(3), 128)
    return frame


@pytest.mark.parametrize(("name", "style"), LOOKS)
def test_each_look_changes_the_pixels_where_it_belongs(plain_frame, name, style):
    [frame] = render(replace(random_actor(6), **{**PLAIN, name: style}),
                     neutral_performance(1, 25.0), random_scene(3), 128)
    changed = np.abs(frame.rgb.astype(int) - plain_frame.rgb).max(axis=2) > 8
    rows = np.arange(128)[:, None]
    brows = frame.landmarks[[105, 334], 1].mean()
    nose, chin = frame.landmarks[2, 1], frame.landmarks[152, 1]
    if name == "hair_style":  # on the head, above the brows
        assert ((frame.parts == HAIR) & (rows < brows)).sum() > 100
    elif style == "stubble":  # only colour, on the lower face
        assert HAIR not in frame.parts
        assert (changed & (rows > nose)).sum() > 50 and not (changed & (rows < brows)).any()
    elif name == "beard":  # a shell below the nose
        hair = frame.parts == HAIR
        assert (hair & (rows > nose)).sum() > (20 if style == "moustache" else 100)
        assert not (hair & (rows < brows)).any()
        assert (hair & (rows > chin + 2)).sum() < (hair & (rows <= chin + 2)).sum()
    else:  # rims around the eyes
        glasses = frame.parts == GLASSES
        rim_band = np.broadcast_to((rows > brows - 6) & (rows < nose), glasses.shape)
        assert rim_band[glasses].mean() > 0.7
        assert glasses.sum() > 25  # thin rims at 128 px
    # Facial hair and glasses are not the face; the landmarks do not move.
    assert not (frame.face_mask[np.isin(frame.parts, [HAIR, GLASSES])] == 255).any()
    np.testing.assert_array_equal(frame.landmarks, plain_frame.landmarks)


def test_swap_truth_has_the_targets_performance_and_the_sources_shape(renderer_available):
    performance = generate_performance(0.4, 25.0, seed=11)
    target = Clip(random_actor(1), performance, random_scene(2), (SIZE, SIZE))
    source = random_actor(4)
    truth = list(render_swap_truth(source, target))
    target_frames = list(render(target.actor, performance, target.scene, SIZE))
    source_alone = list(render(source, performance, random_scene(9), SIZE))
    for ideal, original, alone in zip(truth, target_frames, source_alone, strict=True):
        assert ideal.pose == original.pose and ideal.expression == original.expression
        # the source's shape: its landmarks match the source rendered with the same
        # performance (same pose, camera) and differ from the target's
        assert np.abs(ideal.landmarks - alone.landmarks).max() < 1e-3
        assert np.abs(ideal.landmarks - original.landmarks).max() > 2.0
        # the target's scene: far from the head, the pixels are the target's background
        corner = (slice(0, 12), slice(0, 12))
        assert np.abs(ideal.rgb[corner].astype(int) - original.rgb[corner]).mean() < 1.0


@pytest.mark.slow
def test_mediapipe_finds_the_faces_with_landmarks_near_the_truth(renderer_available):
    from doppel.faces import MediapipeFaces

    errors, found, total = [], 0, 0
    with MediapipeFaces() as faces:
        for seed in range(4):
            performance = generate_performance(2.0, 5.0, seed=seed, max_yaw=30.0)
            for frame in frames_of(seed, performance, scene_seed=seed, size=320):
                total += 1
                detected = faces.detect(frame.rgb)
                if not detected:
                    continue
                found += 1
                distance = np.linalg.norm(detected[0].landmarks - frame.landmarks, axis=1)
                errors.append(np.median(distance) / inter_ocular(frame.landmarks))
    assert found / total >= 0.95
    assert np.median(errors) < 0.05
