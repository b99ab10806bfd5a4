"""The mediapipe wrapper on the one real face available offline (NASA's public-domain astronaut)."""

import sys

import numpy as np
import pytest

pytest.importorskip("mediapipe")
skimage_data = pytest.importorskip("skimage.data")

from doppel.errors import DoppelError  # noqa: E402
from doppel.faces import NUM_LANDMARKS, MediapipeFaces  # noqa: E402


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
