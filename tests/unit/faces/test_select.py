"""Picking one person's faces: a reference photo's identity, and grouping identities."""

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from doppel.errors import DoppelError
from doppel.faces.identity import IdentityEncoder
from doppel.faces.select import REFERENCE_DISTANCE, group_identities, load_reference


def test_groups_join_through_close_pairs_and_keep_strangers_apart():
    rng = np.random.default_rng(0)
    base = rng.normal(size=128)
    base /= np.linalg.norm(base)
    step = np.zeros(128)
    step[0] = 0.8 * REFERENCE_DISTANCE
    far = -base
    # a - b and b - c are close, a - c is not: one group by single linkage
    embeddings = [base, base + step, base + 2 * step, far]
    assert group_identities(embeddings) == [0, 0, 0, 1]
    assert group_identities(embeddings, distance=0.1) == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def encoder():
    return IdentityEncoder()


def test_a_reference_photo_gives_its_one_face_and_refuses_two(tmp_path, encoder):
    photo = tmp_path / "one.png"
    Image.fromarray(astronaut()).save(photo)
    reference = load_reference(photo, encoder)
    assert reference.matches(encoder.embed(astronaut(), reference.face.landmarks))
    two = tmp_path / "two.png"
    Image.fromarray(np.concatenate([astronaut(), astronaut()], axis=1)).save(two)
    with pytest.raises(DoppelError, match="shows 2 faces"):
        load_reference(two, encoder)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(blank)
    with pytest.raises(DoppelError, match="no face found"):
        load_reference(blank, encoder)
