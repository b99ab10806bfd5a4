"""Synthetic actors' heads: identity shape, expressions and parts, checked on known landmarks."""

import numpy as np
import pytest

from doppel.synth.actor import (CLOTHES, EXPRESSIONS, EYE_WHITE, HEAD, IRIS, LIPS, MOUTH, NECK,
                                SHAPE_PARAMETERS, SKIN, Actor, HeadBuilder, build_head,
                                random_actor)
from doppel.synth.face_model import load_face_model

NEUTRAL = {name: 0.0 for name in SHAPE_PARAMETERS}


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def actor_with(**shape):
    return Actor(id="test", seed=0, shape={**NEUTRAL, **shape}, skin=(0.7, 0.5, 0.4))


def face_of(actor, **expression):
    return build_head(actor, expression).vertices[:478].astype(np.float64)


def test_random_actor_is_deterministic_and_varied():
    assert random_actor(3) == random_actor(3)
    actors = [random_actor(seed) for seed in range(20)]
    assert len({tuple(a.shape.values()) for a in actors}) == 20
    assert set(actors[0].shape) == set(SHAPE_PARAMETERS)
    values = np.array([list(a.shape.values()) for a in actors])
    assert np.abs(values).max() <= 2.5
    brightness = [sum(a.skin) for a in (random_actor(s) for s in range(200))]
    assert min(brightness) < 0.8 and max(brightness) > 2.0  # very dark to very light


def test_head_mesh_is_valid():
    head = build_head(random_actor(1), {name: 0.5 for name in EXPRESSIONS})
    count = len(head.vertices)
    assert head.vertices.dtype == np.float32 and head.vertices.shape == (count, 3)
    assert head.normals.shape == head.colours.shape == (count, 3)
    assert head.labels.dtype == np.uint8 and head.specular.shape == (count,)
    assert head.triangles.dtype == np.int32 and 0 <= head.triangles.min()
    assert head.triangles.max() < count and len(head.triangles) <= 4000
    assert np.isfinite(head.vertices).all() and np.isfinite(head.normals).all()
    assert ((head.colours >= 0) & (head.colours <= 1)).all()
    assert {SKIN, LIPS, EYE_WHITE, IRIS, MOUTH, HEAD, NECK, CLOTHES} <= set(head.labels.tolist())


def test_neutral_face_is_symmetric(model):
    face = face_of(random_actor(5))
    mirrored = face[model.mirror] * [-1, 1, 1]
    assert np.abs(face - mirrored).max() < 1e-3


def test_skull_normals_point_outward():
    builder = HeadBuilder(random_actor(2))
    head = builder.build({})
    skull = slice(478, 478 + len(builder.skull.vertices))  # ears are HEAD too, but not convex
    assert (head.labels[skull] == HEAD).all()
    centre = head.vertices[skull].mean(axis=0)
    outward = np.einsum("ij,ij->i", head.normals[skull], head.vertices[skull] - centre)
    assert (outward > 0).mean() > 0.9
    face_normals = head.normals[:468]
    assert face_normals[4, 2] > 0.5  # the nose tip faces the camera


@pytest.mark.parametrize(("parameter", "landmark", "axis", "sign"), [
    ("nose_length", 4, 1, -1), ("nose_projection", 4, 2, 1), ("nose_width", 294, 0, 1),
    ("face_width", 454, 0, 1), ("jaw_width", 397, 0, 1), ("chin_length", 152, 1, -1),
    ("face_length", 152, 1, -1), ("eye_spacing", 263, 0, 1), ("brow_height", 334, 1, 1),
    ("mouth_width", 291, 0, 1), ("lip_fullness", 17, 1, -1), ("forehead_height", 10, 1, 1),
    ("cheek_fullness", 425, 0, 1), ("eye_tilt", 263, 1, 1),
])
def test_shape_parameter_moves_its_feature(parameter, landmark, axis, sign):
    base = face_of(actor_with())
    changed = face_of(actor_with(**{parameter: 2.0}))
    assert sign * (changed[landmark, axis] - base[landmark, axis]) > 0.1


def test_eye_size_widens_the_opening():
    def opening(face):
        return np.linalg.norm(face[263] - face[362]) + np.linalg.norm(face[386] - face[374])
    assert opening(face_of(actor_with(eye_size=2.0))) > opening(face_of(actor_with())) + 0.2


def test_actors_differ():
    faces = [face_of(random_actor(seed)) for seed in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(faces[i] - faces[j]).max() > 0.3


def test_jaw_open_parts_lips_and_drops_chin():
    actor = random_actor(7)
    closed, opened = face_of(actor), face_of(actor, jaw_open=1.0)
    assert np.linalg.norm(closed[13] - closed[14]) < 0.05
    assert np.linalg.norm(opened[13] - opened[14]) > 1.5
    assert opened[152, 1] < closed[152, 1] - 1.0
    assert np.allclose(opened[[1, 4, 10, 33, 263]], closed[[1, 4, 10, 33, 263]], atol=1e-5)


@pytest.mark.parametrize(("side", "upper", "lower", "other"), [
    ("left", 386, 374, 159), ("right", 159, 145, 386)])
def test_blink_closes_one_eye(model, side, upper, lower, other):
    assert upper in model.regions[f"{side}_eye_upper"]
    actor = random_actor(8)
    open_face, closed = face_of(actor), face_of(actor, **{f"blink_{side}": 1.0})
    assert open_face[upper, 1] - open_face[lower, 1] > 0.5
    assert np.linalg.norm(closed[upper] - closed[lower]) < 0.05
    ring_upper, ring_lower = (model.regions[f"{side}_eye_{part}"] for part in ("upper", "lower"))
    assert np.abs(closed[ring_upper] - closed[ring_lower]).max() < 0.05
    assert np.allclose(closed[other], open_face[other])


def test_irises_sit_on_the_eyeballs():
    head = build_head(random_actor(9), {"blink_left": 1.0})
    iris = head.vertices[head.labels == IRIS]
    for centre in (468, 473):
        landmarks = head.vertices[centre:centre + 5]
        near = iris[np.linalg.norm(iris[:, :2] - landmarks[0, :2], axis=1) < 1.0]
        rim = np.linalg.norm(landmarks[1:, :2] - landmarks[0, :2], axis=1)
        assert np.ptp(rim) < 1e-3  # a circle
        drawn = np.linalg.norm(near[:, :2] - landmarks[0, :2], axis=1).max()
        assert abs(drawn - rim.mean()) < 1e-3  # the drawn iris edge is the landmark circle


@pytest.mark.parametrize(("name", "landmark", "axis", "sign"), [
    ("smile", 291, 1, 1), ("mouth_wide", 291, 0, 1), ("mouth_round", 291, 0, -1),
    ("mouth_round", 0, 2, 1), ("brow_raise", 334, 1, 1)])
def test_expression_moves_its_feature(name, landmark, axis, sign):
    actor = random_actor(10)
    moved = face_of(actor, **{name: 1.0})[landmark, axis] - face_of(actor)[landmark, axis]
    assert sign * moved > 0.2


def test_builder_matches_build_head():
    actor = random_actor(11)
    expression = {"jaw_open": 0.4, "smile": 0.6}
    assert np.array_equal(HeadBuilder(actor).build(expression).vertices,
                          build_head(actor, expression).vertices)
