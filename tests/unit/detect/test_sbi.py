"""Self-blended images: the fake differs from the real face inside the blend only, with a
soft edge around the face's landmark hull."""

from __future__ import annotations

import numpy as np
import pytest

from doppel.detect.sbi import BlendOptions, blend_mask, self_blend
from doppel.faces.align import align_face
from doppel.faces.landmarks import points68_from_mediapipe
from doppel.faces.masks import face_hull_mask

SIZE = 128


@pytest.fixture(scope="module")
def faces():
    from doppel.synth import generate_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS

    seed = POOL_SEEDS[5]
    frames = render(random_actor(seed), generate_performance(0.3, 10, seed, max_yaw=30),
                    random_scene(seed), 320)
    return [align_face(frame.rgb, points68_from_mediapipe(frame.landmarks), SIZE, "whole-face")
            for frame in frames]


def test_the_fake_is_the_real_face_outside_the_blend_and_changed_inside(faces):
    rng = np.random.default_rng(0)
    for face in faces:
        fake, weights = self_blend(face.image, face.points68, rng)
        assert fake.shape == face.image.shape and fake.dtype == np.uint8
        assert weights.shape == (SIZE, SIZE) and 0 <= weights.min() and weights.max() <= 1
        change = np.abs(fake.astype(int) - face.image).max(axis=2)
        assert (change[weights == 0] == 0).all()
        inside = weights > 0.5 * weights.max()
        assert change[inside].mean() > 2 * change[weights == 0].mean() + 1


def test_the_blend_follows_the_face_with_a_soft_edge(faces):
    rng = np.random.default_rng(1)
    for face in faces:
        hull = face_hull_mask(face.points68, (SIZE, SIZE), forehead=True) > 0
        weights = blend_mask(face.points68, SIZE, rng)
        share = weights / weights.max()
        # most of the blend lies on the face, and it covers most of the face
        assert weights[hull].sum() > 0.8 * weights.sum()
        assert (share[hull] > 0.5).mean() > 0.5
        # soft: values between nothing and full fill a band around the outline
        assert ((share > 0.05) & (share < 0.95)).sum() > 2 * SIZE


def test_the_same_seed_gives_the_same_fake_and_another_a_different_one(faces):
    face = faces[0]
    first = self_blend(face.image, face.points68, np.random.default_rng(7))
    again = self_blend(face.image, face.points68, np.random.default_rng(7))
    other = self_blend(face.image, face.points68, np.random.default_rng(8))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_no_alteration_gives_back_the_face(faces):
    face = faces[0]
    still = BlendOptions(colour=0.0, scale=0.0, shift=0.0, warp=0.0, grow=0.0, soften=0.01)
    rng = np.random.default_rng(3)
    fakes = [self_blend(face.image, face.points68, rng, still)[0] for _ in range(4)]
    # only the copy's blur or sharpening is left: small everywhere
    assert max(np.abs(fake.astype(int) - face.image).mean() for fake in fakes) < 6
