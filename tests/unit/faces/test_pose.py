"""Head pose from 68 points against synthetic actors rendered at known yaw, pitch and roll
(synth's convention is the truth)."""

from dataclasses import replace

import numpy as np
import pytest

from doppel.faces import estimate_pose, load_mean_face, points68_from_mediapipe

SIZE = 256
# actors by seed, not by pool position, so re-picking the pool leaves these tests alone;
# without beards or glasses, which make dlib's HOG detector miss rendered faces
ACTOR_SEEDS = (14, 16, 18, 3075)
FRAMES = 6  # per actor


def render_posed(seed: int, yaw, pitch, roll, size: int = SIZE):
    from doppel.synth import generate_performance, random_actor, random_scene, render

    # the generator's expressions (speech, blinks, smiles) with the poses we set
    performance = generate_performance(len(yaw) / 5.0, 5.0, seed).slice(0, len(yaw))
    performance = replace(performance, yaw=np.float32(yaw), pitch=np.float32(pitch),
                          roll=np.float32(roll))
    return list(render(random_actor(seed), performance, random_scene(seed), size))


@pytest.fixture(scope="module")
def frames():
    """ACTOR_SEEDS' actors with |yaw| <= 30, |pitch| <= 15, |roll| <= 15 degrees."""
    rng = np.random.default_rng(6)
    posed = []
    for seed in ACTOR_SEEDS:
        yaw, pitch, roll = rng.uniform(-1, 1, (3, FRAMES)) * np.array([[30], [15], [15]])
        posed += render_posed(seed, yaw, pitch, roll)
    return posed


def pose_errors(estimates, frames) -> np.ndarray:
    """|estimate - truth| per frame, degrees, (N, 3) yaw, pitch, roll."""
    return np.abs(np.array(estimates) - np.array([frame.pose for frame in frames]))


def test_mean_face_is_a_symmetric_frontal_face():
    face = load_mean_face()
    assert face.shape == (68, 3) and face.dtype == np.float32 and not face.flags.writeable
    mirror = np.r_[16 - np.arange(17), 26 - np.arange(10), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                   45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
                   54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
    np.testing.assert_allclose(face[mirror] * (-1, 1, 1), face, atol=1e-3)
    assert face[45, 0] - face[36, 0] == pytest.approx(9.0, abs=1.5)  # cm, outer eye corners
    assert face[30, 2] > face[[36, 45, 0, 16], 2].max() + 1  # the nose tip is in front
    assert face[8, 1] < face[57, 1] < face[33, 1] < face[27, 1]  # chin, lip, nose, bridge


SINGLE_AXIS = [(0, 25), (0, -25), (1, 15), (1, -15), (2, 15), (2, -15)]


@pytest.fixture(scope="module")
def single_axis_frames():
    """One frame per (axis, angle) of SINGLE_AXIS, the other two angles 0."""
    poses = np.zeros((3, len(SINGLE_AXIS)))
    for column, (axis, angle) in enumerate(SINGLE_AXIS):
        poses[axis, column] = angle
    return render_posed(3075, *poses)  # a face near the mean shape


@pytest.mark.parametrize("index", range(len(SINGLE_AXIS)))
def test_signs_follow_synths_convention(single_axis_frames, index):
    axis, angle = SINGLE_AXIS[index]
    frame = single_axis_frames[index]
    estimate = estimate_pose(points68_from_mediapipe(frame.landmarks), (SIZE, SIZE))
    assert estimate[axis] == pytest.approx(angle, abs=5)
    others = [value for other, value in enumerate(estimate) if other != axis]
    assert max(abs(value) for value in others) < 5


def test_true_points_give_the_true_pose(frames):
    estimates = [estimate_pose(points68_from_mediapipe(frame.landmarks), (SIZE, SIZE))
                 for frame in frames]
    errors = pose_errors(estimates, frames)
    # measured 1.8, 2.2, 0.4 degrees (1.6-2.2 on other actors): what is left is the actors'
    # own face shapes
    assert np.all(np.median(errors, axis=0) < (3.5, 3.5, 1.5))


def test_the_focal_length_assumption_matters_little(frames):
    synth_focal = 0.55 * SIZE * 70 / 24  # the renderer's lens, 1.6 x the height
    changes = [np.subtract(estimate_pose(points, (SIZE, SIZE)),
                           estimate_pose(points, (SIZE, SIZE), focal=synth_focal))
               for points in (points68_from_mediapipe(frame.landmarks) for frame in frames)]
    assert np.median(np.abs(changes), axis=0).max() < 2


def test_mediapipe_pose_meets_the_bar(frames):
    """The issue's bar: median error <= 5 degrees per angle with |yaw| <= 30."""
    pytest.importorskip("mediapipe")
    from doppel.faces import MediapipeFaces

    with MediapipeFaces() as detector:
        found = [(detector.detect(frame.rgb), frame) for frame in frames]
    assert all(faces for faces, _ in found)
    errors = pose_errors([faces[0].pose for faces, _ in found], frames)
    assert np.all(np.median(errors, axis=0) <= 5)  # measured 1.7, 2.4, 0.6 here


def test_dlib_pose_is_near(frames):
    pytest.importorskip("dlib")
    from doppel.faces import DlibFaces

    with DlibFaces() as detector:
        found = [(faces, frame) for frame in frames if (faces := detector.detect(frame.rgb))]
    assert len(found) >= 0.75 * len(frames)
    errors = pose_errors([faces[0].pose for faces, _ in found], [frame for _, frame in found])
    # dlib puts rendered eyes, mouths and chins a few % high, which reads as 5-10 degrees of
    # pitch down (measured medians 5.6 here, 4.8-10 on other actors); yaw and roll are near
    # mediapipe's (measured 1.9 and 1.2 here)
    assert np.all(np.median(errors, axis=0) <= (5, 15, 5))


def test_rejects_points_that_are_not_68():
    with pytest.raises(ValueError, match="68"):
        estimate_pose(np.zeros((478, 2)), (SIZE, SIZE))
