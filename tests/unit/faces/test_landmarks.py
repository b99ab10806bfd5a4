"""The iBUG-68 view of mediapipe's mesh: its table's shape, and where its points land on
synthetic actors (true mesh points) and on the astronaut (against dlib's own 68 points)."""

from dataclasses import replace

import numpy as np
import pytest

from doppel.faces import NUM_POINTS68, POINT_GROUPS, points68_from_mediapipe
from doppel.faces.landmarks import MESH_PAIRS
from doppel.synth.face_model import load_face_model

# iBUG point -> its mirror image's point
IBUG_MIRROR = np.r_[16 - np.arange(17), 26 - np.arange(10), [27, 28, 29, 30],
                    [35, 34, 33, 32, 31], [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40],
                    [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67,
                     66, 65]]


@pytest.fixture(scope="module")
def frontal_frame():
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    performance = replace(neutral_performance(1, 25.0), jaw_open=np.float32([0.5]))
    # an actor without beard or glasses, which would hide the parts
    return next(render(random_actor(3075), performance, random_scene(2), 384))


def test_table_uses_mesh_vertices_or_edge_midpoints_never_the_irises():
    pairs = np.array(MESH_PAIRS)
    assert pairs.shape == (NUM_POINTS68, 2)
    assert pairs.min() >= 0 and pairs.max() < 468
    model = load_face_model()
    edges = {tuple(sorted((int(t[a]), int(t[b])))) for t in model.triangles
             for a, b in ((0, 1), (1, 2), (0, 2))}
    for a, b in pairs:
        assert a == b or (min(a, b), max(a, b)) in edges


def test_table_is_mirror_symmetric():
    pairs = np.array(MESH_PAIRS)
    mirrored = np.sort(load_face_model().mirror[pairs], axis=1)
    np.testing.assert_array_equal(mirrored, np.sort(pairs[IBUG_MIRROR], axis=1))


def test_maps_any_per_vertex_coordinates():
    vertices = load_face_model().vertices  # (478, 3) cm
    points = points68_from_mediapipe(vertices)
    assert points.shape == (68, 3) and points.dtype == np.float32
    a, b = MESH_PAIRS[36]
    np.testing.assert_allclose(points[36], (vertices[a] + vertices[b]) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="478"):
        points68_from_mediapipe(np.zeros((68, 2)))


def test_points_are_in_ibug_order_on_a_frontal_face(frontal_frame):
    points = points68_from_mediapipe(frontal_frame.landmarks)
    x, y = points[:, 0], points[:, 1]
    jaw = [0, 4, 8, 12, 16]  # left to right through the chin, the lowest point
    assert np.all(np.diff(x[jaw]) > 0) and y[0] < y[4] < y[8] > y[12] > y[16]
    assert y[8] == y.max()
    assert np.all(np.diff(x[17:27]) > 0)  # brows left to right
    assert np.all(np.diff(y[27:31]) > 0)  # nose bridge downwards
    assert np.all(np.diff(x[31:36]) > 0)
    assert y[17:27].max() < y[36:48].min()  # brows above eyes
    assert x[36] < x[39] < x[42] < x[45]  # eye corners left to right
    assert y[33] < y[51] < y[62] < y[66] < y[57]  # nose, upper lip, mouth opening, lower lip
    assert x[48] < x[51] < x[54]


def test_eye_and_lip_points_lie_on_those_parts(frontal_frame):
    from scipy.ndimage import distance_transform_edt

    from doppel.synth.actor import EYE_WHITE, IRIS, LIPS

    points = np.rint(points68_from_mediapipe(frontal_frame.landmarks)).astype(int)
    x, y = points.T
    parts = frontal_frame.parts
    to_eyes = distance_transform_edt(~np.isin(parts, (EYE_WHITE, IRIS)))[y, x]
    to_lips = distance_transform_edt(parts != LIPS)[y, x]
    assert to_eyes[36:48].max() <= 2  # pixels, eye distance ~70: on the eye's outline
    lips = [i for i in range(48, 68) if i not in (48, 54)]
    assert to_lips[lips].max() <= 2
    # the corners sit a few pixels beyond the drawn lips, where dlib puts the corners of the
    # astronaut's smile
    assert to_lips[[48, 54]].max() <= 6


def test_agrees_with_dlib_on_the_astronaut():
    """The real face the table was partly fitted on: each group within a few % of the eye
    distance (measured: jaw 3.2, brows 2.8, nose 2.7, eyes 1.4, mouth 1.4)."""
    skimage_data = pytest.importorskip("skimage.data")
    pytest.importorskip("mediapipe")
    pytest.importorskip("dlib")
    from doppel.faces import open_detector

    image = skimage_data.astronaut()
    with open_detector("mediapipe") as mediapipe, open_detector("dlib") as dlib:
        [mesh_face], [dlib_face] = mediapipe.detect(image), dlib.detect(image)
    eyes = np.linalg.norm(dlib_face.points68[36] - dlib_face.points68[45])
    errors = np.linalg.norm(mesh_face.points68 - dlib_face.points68, axis=1) / eyes
    limits = {"jaw": 0.06, "brows": 0.05, "nose": 0.05, "eyes": 0.03, "mouth": 0.03}
    for name, rows in POINT_GROUPS.items():
        assert errors[list(rows)].mean() < limits[name], name
