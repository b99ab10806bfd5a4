"""Synthetic actors' heads: identity shape, expressions and parts, checked on known landmarks."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from doppel.synth.actor import (BEARD_STYLES, CLOTHES, EXPRESSIONS, EYE_WHITE, GLASSES,
                                GLASSES_STYLES, HAIR, HAIR_STYLES, HEAD, IRIS, LIPS, MOUTH, NECK,
                                SHAPE_PARAMETERS, SKIN, Actor, HeadBuilder, build_head,
                                random_actor)
from doppel.synth.face_model import load_face_model
from doppel.synth.skin import PLAIN_UV, face_uv

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
    assert np.abs(values).max() <= 3.0
    brightness = [sum(a.skin) for a in (random_actor(s) for s in range(200))]
    assert min(brightness) < 0.8 and max(brightness) > 2.0  # very dark to very light


def test_head_mesh_is_valid():
    head = build_head(random_actor(1), {name: 0.5 for name in EXPRESSIONS})
    count = len(head.vertices)
    assert head.vertices.dtype == np.float32 and head.vertices.shape == (count, 3)
    assert head.normals.shape == head.colours.shape == (count, 3)
    assert head.labels.dtype == np.uint8 and head.specular.shape == (count,)
    assert head.triangles.dtype == np.int32 and 0 <= head.triangles.min()
    assert head.triangles.max() < count and len(head.triangles) <= 8000  # hair ~2000
    assert np.isfinite(head.vertices).all() and np.isfinite(head.normals).all()
    assert ((head.colours >= 0) & (head.colours <= 1)).all()
    assert {SKIN, LIPS, EYE_WHITE, IRIS, MOUTH, HEAD, NECK, CLOTHES} <= set(head.labels.tolist())
    assert head.uv.shape == (count, 2) and ((head.uv >= 0) & (head.uv <= 1)).all()
    assert head.texture.dtype == np.uint8 and head.texture.ndim == 3
    np.testing.assert_array_equal(head.uv[:478], face_uv())


def test_scalp_meets_the_face_on_untextured_copies_of_its_edge(model):
    builder = HeadBuilder(random_actor(3))
    head = builder.build({"jaw_open": 0.5})
    oval = model.regions["face_oval"]
    copies = np.arange(len(head.vertices) - len(oval), len(head.vertices))
    np.testing.assert_array_equal(head.vertices[copies], head.vertices[oval])
    np.testing.assert_array_equal(head.normals[copies], head.normals[oval])
    np.testing.assert_array_equal(head.uv[copies], np.tile(np.float32(PLAIN_UV), (len(oval), 1)))
    # Every triangle is either all face (textured) or touches no face vertex.
    on_face = head.triangles < 478
    assert (on_face.all(axis=1) | ~on_face.any(axis=1)).all()


def test_appearance_varies_with_identity():
    actors = [random_actor(seed) for seed in range(200)]
    assert len({a.iris for a in actors}) > 50 and len({a.lips for a in actors}) == 200
    freckled = [a.freckles > 0 for a in actors]
    assert 0.05 < np.mean(freckled) < 0.5  # most people have none
    # Brows darker than the skin, lips redder than it, for every tone.
    for actor in actors:
        assert sum(actor.brows) < sum(actor.skin)
        assert actor.lips[0] / max(actor.lips[1], 1e-3) > actor.skin[0] / actor.skin[1]


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
    ("cheek_fullness", 425, 0, 1), ("eye_tilt", 263, 1, 1), ("brow_ridge", 334, 2, 1),
    ("cheekbones", 345, 0, 1), ("chin_width", 377, 0, 1), ("nose_bridge", 6, 2, 1),
    ("upper_lip", 0, 1, -1),
])
def test_shape_parameter_moves_its_feature(parameter, landmark, axis, sign):
    base = face_of(actor_with())
    changed = face_of(actor_with(**{parameter: 2.0}))
    assert sign * (changed[landmark, axis] - base[landmark, axis]) > 0.1


def test_eye_size_widens_the_opening():
    def opening(face):
        return np.linalg.norm(face[263] - face[362]) + np.linalg.norm(face[386] - face[374])
    assert opening(face_of(actor_with(eye_size=2.0))) > opening(face_of(actor_with())) + 0.2


def test_eye_height_opens_the_lids_wider():
    def height(face):
        return face[386, 1] - face[374, 1]
    assert height(face_of(actor_with(eye_height=2.0))) > height(face_of(actor_with())) + 0.1
    assert height(face_of(actor_with(eye_height=-2.0))) < height(face_of(actor_with())) - 0.1


def test_later_shape_parameters_left_earlier_draws_alone():
    actor = random_actor(11)
    assert all(name in actor.shape for name in SHAPE_PARAMETERS)
    later = ("brow_ridge", "eye_height", "cheekbones", "chin_width", "nose_bridge", "upper_lip")
    assert len({round(actor.shape[name], 6) for name in later}) == len(later)
    assert actor.shape["face_width"] != actor.shape["brow_ridge"]


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


def test_gaze_turns_the_eyeballs_and_their_iris_landmarks():
    builder = HeadBuilder(random_actor(9))
    ahead, right, up = (builder.build({}, gaze=gaze) for gaze in ((0, 0), (15, 0), (0, 10)))
    for centre in (468, 473):
        assert right.vertices[centre, 0] - ahead.vertices[centre, 0] > 0.2  # the actor's left
        assert up.vertices[centre, 1] - ahead.vertices[centre, 1] > 0.15
    moved = np.linalg.norm(right.vertices - ahead.vertices, axis=1) > 1e-4
    assert set(np.unique(right.labels[moved])) <= {IRIS, EYE_WHITE, SKIN}
    assert moved[right.labels == IRIS].all()
    assert np.allclose(right.vertices[:468], ahead.vertices[:468])


def test_an_open_jaw_shows_the_tongue_and_a_closed_one_hides_it():
    from doppel.synth import neutral_performance, random_scene, render
    from doppel.synth import actor as actor_module

    tongue = np.array(actor_module._TONGUE)
    performance = replace(neutral_performance(2, 25.0), jaw_open=np.float32([0.0, 1.0]))
    closed, opened = render(random_actor(3075), performance, random_scene(1), 256)

    def tongue_pixels(frame):
        mouth = frame.rgb[frame.parts == MOUTH].astype(np.float64) / 255
        # the tongue is the only part of the mouth this pink: red well above green and blue
        return int(((mouth[:, 0] > 0.35) & (mouth[:, 1] < 0.6 * mouth[:, 0])
                    & (mouth[:, 1] > 0.25 * mouth[:, 0])).sum())

    assert tongue[0] > 2 * tongue[1]
    assert tongue_pixels(closed) == 0
    assert tongue_pixels(opened) >= 10


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


def test_random_actors_wear_every_style_at_its_odds():
    actors = [random_actor(seed) for seed in range(1000)]
    for name, styles, none, share in (("hair_style", HAIR_STYLES, "bald", 0.10),
                                      ("beard", BEARD_STYLES, "none", 0.55),
                                      ("glasses", GLASSES_STYLES, "none", 0.70)):
        counts = Counter(getattr(actor, name) for actor in actors)
        assert set(counts) == set(styles), name
        assert abs(counts[none] / len(actors) - share) < 0.05, name


def test_hair_beard_and_glasses_join_the_head(model):
    plain = replace(random_actor(12), hair_style="bald", beard="none", glasses="none")
    dressed = replace(plain, hair_style="long", beard="full", glasses="round")
    bare, head = HeadBuilder(plain).build({}), HeadBuilder(dressed).build({})
    assert HAIR not in bare.labels and GLASSES not in bare.labels
    assert {HAIR, GLASSES} <= set(head.labels.tolist())
    np.testing.assert_array_equal(head.vertices[:478], bare.vertices[:478])
    assert ((head.uv[head.labels == HAIR] == np.float32(PLAIN_UV)).all()
            and (head.uv[head.labels == GLASSES] == np.float32(PLAIN_UV)).all())
    # Bald: the scalp is plain skin; grown hair keeps a dark cap under it.
    skull = slice(478, 478 + len(HeadBuilder(plain).skull.vertices))
    assert np.ptp(bare.colours[skull], axis=0).max() < 1e-6
    top = np.argmax(head.vertices[skull, 1])
    np.testing.assert_allclose(head.colours[skull][top], dressed.hair, atol=0.02)


def test_the_beard_follows_the_jaw_and_the_glasses_do_not():
    builder = HeadBuilder(replace(random_actor(13), beard="full", glasses="rectangular"))
    closed, opened = builder.build({}), builder.build({"jaw_open": 1.0})
    assert len(closed.vertices) == len(opened.vertices)
    beard = (closed.labels == HAIR) & (closed.vertices[:, 1] < closed.vertices[152, 1] + 1.0)
    assert beard.sum() > 5
    assert (opened.vertices[beard, 1] < closed.vertices[beard, 1] - 0.5).all()
    glasses = closed.labels == GLASSES
    np.testing.assert_array_equal(opened.vertices[glasses], closed.vertices[glasses])


@pytest.mark.parametrize("beard", ["stubble", "full"])
def test_stubble_and_beards_darken_the_skin_under_them(beard):
    actor = replace(random_actor(14), hair=(0.05, 0.04, 0.03), beard="none")
    bare = HeadBuilder(actor).build({})
    head = HeadBuilder(replace(actor, beard=beard)).build({})
    assert (head.colours[:478] <= bare.colours[:478] + 1e-6).all()
    assert head.colours[152].max() < 0.8  # the chin
    np.testing.assert_array_equal(head.colours[10], bare.colours[10])  # the forehead


def test_the_builder_cache_tells_styles_apart():
    actor = random_actor(15)
    for name, value in (("hair_style", "long"), ("beard", "full"), ("glasses", "round")):
        other = replace(actor, **{name: value})
        if other != actor:
            assert len(build_head(other, {}).vertices) != len(build_head(actor, {}).vertices)


def test_every_dressed_head_is_finite():
    # a moustache's thickness once took the square root of -1e-17 at its ends (NaN vertices)
    from doppel.synth.actor import HeadBuilder

    for seed in range(12):
        for beard in ("moustache", "full"):
            actor = replace(random_actor(seed), beard=beard, glasses="round", hair_style="long")
            head = HeadBuilder(actor).build({"jaw_open": 0.7})
            assert np.isfinite(head.vertices).all() and np.isfinite(head.normals).all()
