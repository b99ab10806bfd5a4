"""dlib's identity embedding on the one real face available offline (NASA's public-domain
astronaut) and on a synthetic actor whose true landmarks give the face box."""

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib (pip install dlib-bin) is not installed")
skimage_data = pytest.importorskip("skimage.data")

from doppel.errors import DoppelError  # noqa: E402
from doppel.faces.identity import (  # noqa: E402
    EMBEDDING_SIZE,
    SAME_PERSON_DISTANCE,
    IdentityEncoder,
    box_from_landmarks,
    identity_distance,
)


@pytest.fixture(scope="module")
def astronaut():
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def astronaut_embedding(encoder, astronaut):
    return encoder.embed(astronaut)


@pytest.fixture(scope="module")
def actor_frame():
    from doppel.synth import neutral_performance, random_actor, random_scene, render

    return next(render(random_actor(7), neutral_performance(1, 5.0), random_scene(7), 256))


def test_astronaut_embeds_to_a_unit_ish_vector(astronaut_embedding):
    assert astronaut_embedding.shape == (EMBEDDING_SIZE,)
    assert astronaut_embedding.dtype == np.float32
    assert 0.5 < np.linalg.norm(astronaut_embedding) < 2.0


def test_detects_the_astronaut_face_not_the_suit(encoder, astronaut):
    # HOG also fires on the suit's flag patch; the most confident box is the face
    x0, y0, x1, y1 = encoder.detect(astronaut)
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200


@pytest.mark.parametrize("change", ["flip", "resize"])
def test_same_face_flipped_or_resized_stays_close(encoder, astronaut, astronaut_embedding,
                                                   change):
    from skimage.transform import rescale

    if change == "flip":
        image = astronaut[:, ::-1]
    else:
        image = (rescale(astronaut, 0.8, channel_axis=2, anti_aliasing=True) * 255
                 ).round().astype(np.uint8)
    other = encoder.embed(image)
    assert other is not None
    assert identity_distance(astronaut_embedding, other) < 0.4


def test_explicit_box_matches_detection(encoder, astronaut, astronaut_embedding):
    box = encoder.detect(astronaut)
    assert identity_distance(encoder.embed(astronaut, box), astronaut_embedding) == 0.0


def test_synthetic_actor_embeds_from_its_true_landmarks(encoder, actor_frame):
    from_landmarks = encoder.embed(actor_frame.rgb, actor_frame.landmarks)
    assert from_landmarks.shape == (EMBEDDING_SIZE,)
    assert np.isfinite(from_landmarks).all()
    from_detector = encoder.embed(actor_frame.rgb)
    assert from_detector is not None
    # the landmark box stands in for HOG's: the same person by a wide margin
    assert identity_distance(from_landmarks, from_detector) < SAME_PERSON_DISTANCE / 2


def test_landmark_box_is_a_square_like_hogs(actor_frame):
    x0, y0, x1, y1 = box_from_landmarks(actor_frame.landmarks)
    assert x1 - x0 == pytest.approx(y1 - y0)
    top, bottom = actor_frame.landmarks[:, 1].min(), actor_frame.landmarks[:, 1].max()
    assert top < y0 and y1 < bottom  # brows to chin, inside the mesh's forehead-to-chin


def test_blank_image_has_no_face(encoder):
    assert encoder.embed(np.full((200, 200, 3), 128, np.uint8)) is None


def test_rejects_non_rgb_input(encoder):
    with pytest.raises(ValueError, match="RGB uint8"):
        encoder.embed(np.zeros((64, 64), np.uint8))


def test_missing_model_files_say_what_to_do(tmp_path):
    with pytest.raises(DoppelError, match="face_recognition_models"):
        IdentityEncoder(models=tmp_path)
