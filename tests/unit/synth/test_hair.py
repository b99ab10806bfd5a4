"""Hair, beards and glasses: valid parts that cover the scalp, follow the jaw and leave the face
visible, checked on a synthetic actor's known geometry."""

from dataclasses import replace

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.synth.actor import SKIN, HeadBuilder, random_actor
from doppel.synth.face_model import load_face_model
from doppel.synth.hair import (GLASSES, HAIR, HAIR_STYLES, beard_shading, make_beard,
                               make_glasses, make_hair)

GROWN = [style for style in HAIR_STYLES if style != "bald"]
COLOUR = (0.3, 0.2, 0.1)
BROWS = np.concatenate([load_face_model().regions["left_brow"],
                        load_face_model().regions["right_brow"]])


@pytest.fixture(scope="module")
def builder():
    # Bald, clean-shaven, no glasses: the head these parts are tried on has none of its own.
    return HeadBuilder(replace(random_actor(5), hair_style="bald", beard="none", glasses="none"))


@pytest.fixture(scope="module")
def model():
    return load_face_model()


@pytest.fixture(scope="module")
def hair(builder):
    return {style: make_hair(builder.skull, builder.face, style, COLOUR, seed=3)
            for style in HAIR_STYLES}


def assert_valid(part, label):
    count = len(part.vertices)
    for array in (part.vertices, part.normals, part.colours):
        assert array.shape == (count, 3) and np.isfinite(array).all()
    assert part.triangles.min() >= 0 and part.triangles.max() < count
    corners = part.vertices[part.triangles]
    area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]),
                          axis=1)
    assert (area > 1e-10).mean() > 0.97  # only a crown fan may pinch
    assert np.allclose(np.linalg.norm(part.normals, axis=1), 1, atol=1e-3)
    assert (part.labels == label).all() and part.specular.shape == (count,)
    assert part.colours.min() >= 0 and part.colours.max() <= 1


def test_bald_has_no_hair(hair):
    assert hair["bald"] is None


@pytest.mark.parametrize("style", GROWN)
def test_hair_is_valid_and_within_budget(hair, style):
    assert_valid(hair[style], HAIR)
    assert len(hair[style].triangles) <= 2500
    assert hair[style].specular.min() > 0.25  # shinier than skin


@pytest.mark.parametrize("style", GROWN)
def test_hair_points_out_of_the_head(hair, builder, style):
    part = hair[style]
    outward = np.einsum("ij,ij->i", part.normals, part.vertices - builder.skull.centre)
    assert (outward > 0).mean() > 0.8  # long hair's curtain hangs, but faces away


@pytest.mark.parametrize("style", GROWN)
def test_hair_stays_out_of_the_face(hair, builder, model, style):
    face = builder.face.astype(np.float64)
    oval = face[model.regions["face_oval"], :2]
    brows = face[np.concatenate([model.regions["left_brow"], model.regions["right_brow"]])]
    vertices = hair[style].vertices
    in_front_view = _inside(vertices[:, :2], oval) & (vertices[:, 1] < brows[:, 1].max())
    # Seen from the front inside the oval, below the brows, hair may only lie behind the face.
    assert (vertices[in_front_view, 2] < face[:, 2].min()).all()


@pytest.mark.parametrize("style", GROWN)
def test_hair_covers_the_top_of_the_scalp(hair, builder, style):
    centre = builder.skull.centre
    scalp = builder.skull.vertices[builder.skull.vertices[:, 1] > 2.5]
    hair_vertices = hair[style].vertices
    for point in scalp:
        near = np.linalg.norm(hair_vertices - point, axis=1) < 2.5
        beyond = np.linalg.norm(hair_vertices[near] - centre, axis=1) \
            > np.linalg.norm(point - centre) + 0.03
        assert beyond.any(), point


def test_long_hair_falls_below_the_head_and_medium_is_thicker_than_short(hair, builder):
    assert hair["long"].vertices[:, 1].min() < -14
    reach = {style: np.linalg.norm(hair[style].vertices - builder.skull.centre, axis=1).max()
             for style in ("buzz", "short", "medium")}
    assert reach["buzz"] < reach["short"] < reach["medium"]


def test_hair_is_deterministic_and_seed_varies_it(builder):
    a, b, c = (make_hair(builder.skull, builder.face, "short", COLOUR, seed)
               for seed in (1, 1, 2))
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.colours, b.colours)
    assert not np.array_equal(a.colours, c.colours)


def test_unknown_styles_say_what_to_use(builder, model):
    with pytest.raises(DoppelError, match="buzz"):
        make_hair(builder.skull, builder.face, "mohawk", COLOUR, 0)
    with pytest.raises(DoppelError, match="moustache"):
        make_beard(builder.face, model.regions, "goatee", COLOUR, 0)
    with pytest.raises(DoppelError, match="round"):
        make_glasses(builder.skull, builder.face, "monocle", COLOUR, 0)


@pytest.mark.parametrize("style", ["moustache", "full"])
def test_beard_follows_the_jaw_and_leaves_the_lips(builder, model, style):
    shell = make_beard(builder.face, model.regions, style, COLOUR, seed=0)
    closed = builder.build({}).vertices[:478]
    opened = builder.build({"jaw_open": 1.0}).vertices[:478]
    rest, moved = shell.build(closed), shell.build(opened)
    assert_valid(rest, HAIR)
    lips = closed[model.regions["lips_outer"]]
    inside_lips = _inside(rest.vertices[:, :2], lips[:, :2])
    assert not inside_lips.any()
    if style == "full":
        chin = rest.vertices[:, 1] < closed[152, 1] + 1.5
        assert chin.sum() > 5
        assert (moved.vertices[chin, 1] < rest.vertices[chin, 1] - 0.5).all()
    # The moustache's middle stays with the upper lip, which the jaw does not move.
    upper = (rest.vertices[:, 1] > lips[:, 1].max()) & (np.abs(rest.vertices[:, 0]) < 1.2)
    assert upper.sum() > 5
    assert np.allclose(moved.vertices[upper], rest.vertices[upper], atol=0.05)
    offset = np.linalg.norm(rest.vertices - np.einsum("kj,kjd->kd", shell.weights,
                                                      closed[shell.anchors]), axis=1)
    assert offset.max() <= 0.55


def test_stubble_is_shading_only(builder, model):
    assert make_beard(builder.face, model.regions, "stubble", COLOUR, 0) is None
    assert make_beard(builder.face, model.regions, "none", COLOUR, 0) is None
    weights = beard_shading(builder.face, model.regions, "stubble")
    assert weights.shape == (478,) and 0 <= weights.min() and weights.max() <= 1
    assert weights[152] > 0.3 and weights[model.regions["lips"]].max() == 0
    assert weights[model.regions["forehead"]].max() == 0
    assert not beard_shading(builder.face, model.regions, "none").any()


@pytest.mark.parametrize("style", ["round", "rectangular"])
def test_glasses_rims_sit_in_front_of_the_eyes(builder, model, style):
    glasses = make_glasses(builder.skull, builder.face, style, (0.1, 0.1, 0.1), seed=0)
    assert_valid(glasses, GLASSES)
    assert make_glasses(builder.skull, builder.face, "none", COLOUR, 0) is None
    face = builder.face.astype(np.float64)
    for side in ("left", "right"):
        eye = face[model.regions[f"{side}_eye"]]
        centre = eye.mean(axis=0)
        near = (np.abs(glasses.vertices[:, 0] - centre[0]) < 2.6) \
            & (np.abs(glasses.vertices[:, 1] - centre[1]) < 2.2)
        rim = glasses.vertices[near & (glasses.vertices[:, 2] > eye[:, 2].max() + 0.3)]
        assert len(rim) > 50
        assert np.abs(rim[:, 0].mean() - centre[0]) < 0.4
        assert np.abs(rim[:, 1].mean() - centre[1] - 0.2) < 0.4
        assert np.ptp(rim[:, 0]) > np.ptp(eye[:, 0])  # wider than the eye opening
        # Nothing of the frame lies within the eye opening's footprint, close to the lids.
        over_eye = near & (np.abs(glasses.vertices[:, 0] - centre[0]) < 1.0) \
            & (np.abs(glasses.vertices[:, 1] - centre[1]) < 0.5)
        assert (glasses.vertices[over_eye, 2] > eye[:, 2].max() + 0.5).all()
    assert glasses.vertices[:, 2].min() < -5  # the arms reach back to the ears


@pytest.mark.parametrize("yaw", [0.0, 45.0, -45.0])
def test_rendered_face_is_not_hidden_by_hair(builder, hair, yaw):
    from doppel.synth.raster import Mesh, Renderer
    from doppel.synth.render import _pose_and_project

    head = builder.build({})
    values = dict(yaw=yaw, pitch=0.0, roll=0.0, scale=1.0, tx=0.0, ty=0.0)
    pivot = load_face_model().pivot.astype(np.float32)
    counts = []
    with Renderer(96, 96, samples=1) as renderer:
        for part in (None, hair["long"], hair["medium"]):
            arrays = [head.vertices, head.normals, head.colours, head.triangles, head.labels,
                      head.specular]
            if part is not None:
                arrays = [np.vstack([arrays[0], part.vertices]),
                          np.vstack([arrays[1], part.normals]),
                          np.vstack([arrays[2], part.colours]),
                          np.vstack([arrays[3], part.triangles + len(head.vertices)]),
                          np.concatenate([arrays[4], part.labels]),
                          np.concatenate([arrays[5], part.specular])]
            positions, normals = _pose_and_project(arrays[0].astype(np.float32),
                                                   arrays[1].astype(np.float32), arrays[4],
                                                   values, pivot, 96, 96)
            drawn = renderer.draw(Mesh(positions, normals, arrays[2].astype(np.float32),
                                       arrays[3].astype(np.int32), arrays[4],
                                       arrays[5].astype(np.float32)))
            # Hair may cover the forehead's top, never the face below the brows.
            brow_row = int(positions[BROWS, 1].min()) + 1
            counts.append((drawn.labels[brow_row:] == SKIN).sum())
    assert counts[0] > 300
    assert min(counts[1:]) >= 0.99 * counts[0]


def _inside(points, polygon):
    inside = np.zeros(len(points), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (y0 > points[:, 1]) != (y1 > points[:, 1])
        x_cross = x0 + (points[:, 1] - y0) * (x1 - x0) / ((y1 - y0) or 1e-12)
        inside ^= crosses & (points[:, 0] < x_cross)
    return inside
