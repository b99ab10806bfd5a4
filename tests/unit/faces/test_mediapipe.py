"""The mediapipe wrapper on the one real face available offline (NASA's public-domain
astronaut) and on a synthetic actor with known landmarks."""

import sys
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("mediapipe")
skimage_data = pytest.importorskip("skimage.data")

from doppel.errors import DoppelError  # noqa: E402
from doppel.faces import NUM_LANDMARKS, Face, MediapipeFaces, points68_from_mediapipe  # noqa: E402


@pytest.fixture(scope="module")
def detector():
    with MediapipeFaces(max_faces=2) as faces:
        yield faces


@pytest.fixture(scope="module")
def astronaut_face(detector):
    faces = detector.detect(skimage_data.astronaut())
    assert len(faces) == 1
    return faces[0]


def test_finds_the_astronaut_with_a_confident_score(astronaut_face):
    assert astronaut_face.score > 0.8
    x0, y0, x1, y1 = astronaut_face.box
    # the face is in the upper middle of the 512x512 photo, roughly 90 pixels wide
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    assert 60 < x1 - x0 < 140


def test_faces_are_the_shared_face_type_with_68_points_and_a_pose(astronaut_face):
    assert isinstance(astronaut_face, Face) and astronaut_face.track == -1
    points = astronaut_face.points68
    assert points.shape == (68, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, points68_from_mediapipe(astronaut_face.landmarks))
    assert len(astronaut_face.pose) == 3
    assert all(isinstance(angle, float) for angle in astronaut_face.pose)


def test_eye_centres_land_on_the_astronauts_eyes(astronaut_face):
    # the pupils, read off the photo by eye: (203, 101) on the image's left, (246, 104)
    points = astronaut_face.points68
    assert np.linalg.norm(points[36:42].mean(axis=0) - (203, 101)) < 3
    assert np.linalg.norm(points[42:48].mean(axis=0) - (246, 104)) < 3


def test_the_astronaut_faces_the_camera_upright(astronaut_face):
    yaw, pitch, roll = astronaut_face.pose
    # no turn or tilt; in synth's convention (frontal = the face oval facing the camera) her
    # head reads about 20 degrees down, and dlib's points say the same
    assert abs(yaw) < 10 and abs(roll) < 8 and -35 < pitch < -5


def test_synthetic_actor_points68_match_the_truth(detector):
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    performance = replace(neutral_performance(3, 25.0),
                          yaw=np.float32([-20, 0, 20]), pitch=np.float32([5, -5, 0]))
    frames = render(random_actor(3075), performance, random_scene(3), 256)
    for frame in frames:
        [face] = detector.detect(frame.rgb)
        truth = points68_from_mediapipe(frame.landmarks)
        eyes = np.linalg.norm(truth[36] - truth[45])
        error = np.linalg.norm(face.points68 - truth, axis=1).mean() / eyes
        assert error < 0.08  # measured 3-6 % on pool actors
        assert abs(face.pose[0] - frame.pose[0]) < 8


def test_landmarks_are_pixels_inside_the_box(astronaut_face):
    landmarks, depth = astronaut_face.landmarks, astronaut_face.depth
    assert landmarks.shape == (NUM_LANDMARKS, 2) and landmarks.dtype == np.float32
    assert depth.shape == (NUM_LANDMARKS,) and depth.dtype == np.float32
    x0, y0, x1, y1 = astronaut_face.box
    assert np.all((landmarks[:, 0] >= x0) & (landmarks[:, 0] <= x1))
    assert np.all((landmarks[:, 1] >= y0) & (landmarks[:, 1] <= y1))


def test_landmarks_are_anatomically_ordered(astronaut_face):
    points, depth = astronaut_face.landmarks, astronaut_face.depth
    eyes_y = points[[468, 473], 1].mean()
    nose_tip, mouth, chin = points[1], (points[13] + points[14]) / 2, points[152]
    assert eyes_y < nose_tip[1] < mouth[1] < chin[1]  # image y grows downwards
    # mediapipe's "left" iris (473) is the subject's left, on the image's right
    assert points[473, 0] > points[468, 0]
    assert depth[1] < depth[[234, 454]].min()  # the nose tip is nearer the camera than the ears


def test_blank_frame_has_no_faces(detector):
    assert detector.detect(np.zeros((256, 256, 3), np.uint8)) == []


def test_rejects_non_rgb_input(detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((64, 64), np.uint8))


def test_missing_mediapipe_is_a_user_error(monkeypatch):
    for name in ("mediapipe", "mediapipe.python", "mediapipe.python.solutions"):
        monkeypatch.setitem(sys.modules, name, None)  # None makes `import` raise ImportError
    with pytest.raises(DoppelError, match="mediapipe is not installed"):
        MediapipeFaces()


def test_mediapipe_loads_without_matplotlib_and_its_drawing_helpers_still_work():
    # Its drawing helpers import matplotlib.pyplot (~0.9 s); doppel keeps them out at load.
    import subprocess
    import sys

    code = ("import sys; from doppel.faces.mediapipe import _import_solutions; "
            "s = _import_solutions(); assert 'matplotlib' not in sys.modules; "
            "assert s.face_mesh.FaceMesh; import mediapipe as mp; "
            "assert mp.solutions.drawing_utils.DrawingSpec; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
