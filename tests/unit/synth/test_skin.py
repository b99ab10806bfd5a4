"""Skin textures: UV layout of the face mesh, determinism, and the painted features where the
landmarks say they are."""

import numpy as np
import pytest

from doppel.synth.actor import random_actor
from doppel.synth.face_model import load_face_model
from doppel.synth.skin import (PLAIN_UV, UV_MARGIN, SkinParams, default_brow_colour,
                               default_lip_colour, face_uv, make_skin_texture)

LIGHT = (0.95, 0.8, 0.7)
SIZE = 256


def params(**changes):
    values = dict(seed=1, skin=LIGHT, lips=default_lip_colour(LIGHT),
                  brows=default_brow_colour((0.1, 0.07, 0.05), LIGHT))
    return SkinParams(**{**values, **changes})


def texel(uv):
    x, y = np.round(np.asarray(uv) * SIZE - 0.5).astype(int)
    return y, x


def test_face_uv_is_inset_symmetric_and_upright():
    model = load_face_model()
    uv = face_uv()
    assert uv.shape == (478, 2) and uv.dtype == np.float32
    assert uv.min() >= UV_MARGIN - 1e-6 and uv.max() <= 1 - UV_MARGIN + 1e-6
    np.testing.assert_allclose(uv[model.mirror, 0], 1 - uv[:, 0], atol=1e-5)
    assert uv[10, 1] < uv[4, 1] < uv[152, 1]  # forehead, nose tip, chin from top to bottom
    assert uv[263, 0] > 0.5 > uv[33, 0]  # the subject's left is u's right
    # The unrolled face does not fold over itself (bar a few slivers at the mouth corners,
    # folded in the base mesh too).
    corners = uv[model.triangles].astype(np.float64)
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    area = first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0]
    folded = np.sign(area) != np.sign(np.median(area))
    assert folded.sum() <= 4 and np.abs(area[folded]).max() < 1e-4


def test_texture_is_deterministic_per_seed():
    first = make_skin_texture(params(), SIZE)
    assert first.dtype == np.uint8 and first.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(first, make_skin_texture(params(), SIZE))
    assert np.abs(first.astype(int) - make_skin_texture(params(seed=2), SIZE)).mean() > 0.5


def test_features_sit_on_their_landmarks():
    texture = make_skin_texture(params(), SIZE).astype(float)
    uv = face_uv()
    plain = texture[texel((uv[10] + uv[151]) / 2)]  # mid forehead
    np.testing.assert_allclose(plain / 255, LIGHT, atol=0.08)
    lip = texture[texel((uv[0] + uv[13]) / 2)]  # upper lip, middle
    assert lip[1] < plain[1] - 30 and lip[0] / lip[1] > plain[0] / plain[1]  # redder
    brow = texture[texel((uv[105] + uv[52]) / 2)]  # the middle of the right brow
    assert brow.mean() < plain.mean() - 40
    lash = texture[texel(uv[159])]  # the right upper lid's middle
    assert lash.mean() < plain.mean() - 60
    np.testing.assert_array_equal(texture[texel(PLAIN_UV)], (255, 255, 255))


def test_freckles_follow_the_params():
    plain, freckled = (make_skin_texture(params(freckles=f), SIZE).astype(float)
                       for f in (0.0, 1.0))
    y, x = texel(face_uv()[4] / 2 + face_uv()[6] / 2)
    patch = np.s_[y - 4:y + 4, x - 8:x + 8]  # the bridge of the nose
    assert freckled[patch].std() > plain[patch].std()
    assert freckled[patch].mean() < plain[patch].mean() - 2


def test_texture_is_fast_enough_for_each_actor():
    import time

    make_skin_texture(random_actor(0))
    start = time.perf_counter()
    make_skin_texture(random_actor(1))
    assert time.perf_counter() - start < 0.5  # ~0.1 s on one core; slack for busy machines


def test_small_sizes_are_refused():
    with pytest.raises(ValueError, match="at least"):
        make_skin_texture(params(), 64)
