"""Several actors in one frame: composited by depth, each with its own truth."""

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.synth import random_actor, random_scene
from doppel.synth.group import Cast, crossing_performances, render_group
from doppel.synth.pool import POOL_SEEDS

SIZE = (320, 180)


@pytest.fixture(scope="module")
def crossing():
    far, near = crossing_performances(8.0, 5.0, seed=5)
    cast = [Cast(random_actor(POOL_SEEDS[0]), far), Cast(random_actor(POOL_SEEDS[1]), near)]
    return list(render_group(cast, random_scene(3), SIZE))


def face_centre(frame):
    return frame.landmarks[1]  # nose tip


def test_every_frame_holds_both_actors_truth_over_one_picture(crossing):
    assert len(crossing) == 40
    for far, near in crossing:
        assert far.rgb is near.rgb
        assert not (far.parts.astype(bool) & near.parts.astype(bool)).any()


def test_the_nearer_actor_hides_the_further_one_where_they_cross(crossing):
    hidden = [far.visible[:468].mean() for far, near in crossing
              if abs(face_centre(far)[0] - face_centre(near)[0]) < 10]
    assert hidden and min(hidden) < 0.3  # the far face is behind the near head
    apart = crossing[0]
    assert apart[0].visible[:468].mean() > 0.6 and apart[1].visible[:468].mean() > 0.6


def test_the_near_actor_leaves_the_frame_and_comes_back(crossing):
    inside = [0 <= face_centre(near)[0] < SIZE[0] and near.visible.any() for _, near in crossing]
    gone = [i for i, seen in enumerate(inside) if not seen]
    assert gone, "never left"
    assert inside[0] and inside[-1], "did not come back"
    assert not crossing[gone[len(gone) // 2]][1].parts.any()  # nothing of it drawn


def test_group_frames_are_deterministic(crossing):
    far, near = crossing_performances(8.0, 5.0, seed=5)
    cast = [Cast(random_actor(POOL_SEEDS[0]), far.slice(30, 32)),
            Cast(random_actor(POOL_SEEDS[1]), near.slice(30, 32))]
    again = list(render_group(cast, random_scene(3), SIZE))
    # The picture's noise depends on the frame index, so compare the truth and the drawing.
    assert np.array_equal(again[0][1].landmarks, crossing[30][1].landmarks)
    assert np.array_equal(again[0][0].parts, crossing[30][0].parts)


def test_performances_of_different_lengths_are_an_error():
    far, near = crossing_performances(2.0, 5.0, seed=1)
    with pytest.raises(DoppelError, match="one length"):
        next(render_group([Cast(random_actor(1), far), Cast(random_actor(2), near.slice(0, 5))],
                          random_scene(1), SIZE))
