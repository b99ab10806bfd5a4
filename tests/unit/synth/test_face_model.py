"""The packaged base face: a clean, frontal, symmetric, neutral mesh with named regions."""

import collections
import itertools

import numpy as np
import pytest

from doppel.synth.face_model import load_face_model, vertex_normals


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def edge_uses(triangles):
    return collections.Counter(tuple(sorted(e)) for t in triangles.tolist()
                               for e in itertools.combinations(t, 2))


def test_shapes_and_indices(model):
    assert model.vertices.shape == (478, 3) and model.vertices.dtype == np.float32
    assert model.triangles.dtype == np.int32 and model.triangles.shape[1] == 3
    assert model.triangles.min() >= 0 and model.triangles.max() < 468  # irises are not in faces
    assert len({tuple(sorted(t)) for t in model.triangles.tolist()}) == len(model.triangles)
    assert not model.vertices.flags.writeable
    assert "astronaut" in model.source


def test_mesh_is_a_manifold_with_consistent_winding(model):
    uses = edge_uses(model.triangles)
    assert set(uses.values()) == {1, 2}
    directed = collections.Counter((a, b) for t in model.triangles.tolist()
                                   for a, b in zip(t, t[1:] + t[:1]))
    assert max(directed.values()) == 1  # neighbours run their shared edge in opposite directions
    corners = model.vertices[model.triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = np.linalg.norm(normals, axis=1)
    assert (areas * (normals[:, 2] > 0)).sum() > 0.9 * areas.sum()  # faces the camera (+z)


def test_eyes_and_mouth_stay_open_holes(model):
    boundary = {e for e, n in edge_uses(model.triangles).items() if n == 1}
    for name in ("lips_inner", "left_eye", "right_eye", "face_oval"):
        ring = model.regions[name].tolist()
        assert {tuple(sorted(e)) for e in zip(ring, ring[1:] + ring[:1])} <= boundary, name
        assert not any(set(t) <= set(ring) for t in model.triangles.tolist()), name


def test_mirror_makes_the_face_symmetric(model):
    mirror, vertices = model.mirror, model.vertices
    assert np.array_equal(mirror[mirror], np.arange(478))
    reflected = vertices[mirror] * (-1, 1, 1)
    assert np.abs(vertices - reflected).max() < 1e-4
    assert np.all(mirror[model.regions["left_eye"]] == model.regions["right_eye"])


def test_vertex_normals_point_out_of_the_face(model):
    normals = vertex_normals(model.vertices, model.triangles)
    assert normals.shape == (478, 3) and normals.dtype == np.float32
    assert np.allclose(np.linalg.norm(normals[:468], axis=1), 1, atol=1e-5)
    assert np.all(normals[468:] == 0)
    assert normals[1, 2] > 0.8  # nose tip looks at the camera
    assert normals[234, 0] < -0.8 and normals[454, 0] > 0.8  # the sides look sideways


def test_anatomy_is_frontal_and_in_centimetres(model):
    v, regions = model.vertices, model.regions
    eye_gap = v[regions["left_eye"]].mean(0) - v[regions["right_eye"]].mean(0)
    assert eye_gap == pytest.approx([6.3, 0, 0], abs=1e-3)  # subject's left is +x
    eyes_y, nose_y = v[regions["left_eye"], 1].mean(), v[1, 1]
    mouth_y, chin_y = v[regions["lips_inner"], 1].mean(), v[152, 1]
    assert eyes_y > nose_y > mouth_y > chin_y  # y up
    assert v[1, 2] > v[regions["face_oval"], 2].max()  # nose tip is nearest the camera
    assert v[regions["left_iris"][0]] == pytest.approx(v[473])


def test_mouth_is_closed_and_neutral(model):
    v = model.vertices
    assert np.linalg.norm(v[13] - v[14]) < 0.05  # inner lip centres meet
    inner = model.regions["lips_inner"]
    assert np.ptp(v[inner, 1]) < 0.3  # the lips meet along a nearly straight line
    corners = v[[61, 291]]
    assert 4.5 < corners[1, 0] - corners[0, 0] < 5.5  # relaxed mouth width, not a smile
    assert corners[:, 1].max() <= v[13, 1] + 0.05  # corners not raised above the centre


def test_regions_are_named_and_disjoint_where_they_should_be(model):
    regions = model.regions
    expected = {"face_oval", "lips_outer", "lips_inner", "lips", "nose", "chin", "jaw", "forehead"}
    for side in ("left", "right"):
        expected |= {f"{side}_{part}" for part in
                     ("eye", "eye_upper", "eye_lower", "brow", "iris", "cheek")}
    assert expected <= set(regions)
    for name, index in regions.items():
        assert index.dtype == np.int32 and len(index) > 0 and index.max() < 478, name
    assert regions["left_iris"][0] == 473 and regions["right_iris"][0] == 468
    assert not set(regions["nose"].tolist()) & set(regions["lips"].tolist())
    v = model.vertices
    assert v[regions["left_cheek"], 0].min() > 0 > v[regions["right_cheek"], 0].max()
    assert v[regions["chin"], 1].max() < v[regions["lips"], 1].min()
    upper, lower = regions["left_eye_upper"], regions["left_eye_lower"]
    assert upper[0] == lower[0] == 362 and upper[-1] == lower[-1] == 263
    assert v[upper, 1].mean() > v[lower, 1].mean()
