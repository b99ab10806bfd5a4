"""The `model` swapper: a model from `doppel train` swaps a face in a frame."""

from __future__ import annotations

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.swap import SWAPPERS


@pytest.fixture(scope="module")
def model(trained_model):
    return trained_model


def frontal_face(size: int):
    """A frontal render of the model's target actor at `size` px, its true iBUG-68 points and
    the Face a detector would give."""
    from doppel.faces.landmarks import points68_from_mediapipe
    from doppel.synth import neutral_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS
    from doppel.types import Face

    seed = POOL_SEEDS[1]
    frame = next(render(random_actor(seed), neutral_performance(1, 10.0), random_scene(seed),
                        size))
    points68 = points68_from_mediapipe(frame.landmarks)
    face = Face(box=(0.0, 0.0, 1.0, 1.0), score=1.0, landmarks=frame.landmarks,
                points68=points68, pose=frame.pose)
    return frame, points68, face


def test_the_model_draws_where_its_mask_says_on_the_aligned_face(model):
    from doppel.faces.align import align_face, invert_matrix, transform_points

    frame, points68, face = frontal_face(256)
    swapper = SWAPPERS.get("model")(model, colour="none", mask="learned")
    # Three steps teach no mask yet (it sits near 0.5, under the blend's threshold): nothing
    # is drawn. A mask forced to 1 must draw the whole aligned crop, and only it.
    assert np.array_equal(swapper.swap_frame(frame.rgb, face), frame.rgb)
    # (on the CPU the swapper runs the numpy copy of the network: doppel.swap.numpy_net)
    biases = swapper.network._biases
    biases["decoders.source.out"] = biases["decoders.source.out"].copy()
    biases["decoders.source.out"][3] = 20.0
    output = swapper.swap_frame(frame.rgb, face)
    changed = np.abs(output.astype(int) - frame.rgb).max(axis=2) > 0
    aligned = align_face(frame.rgb, points68, swapper.resolution, swapper.coverage)
    side = swapper.resolution - 1
    corners = transform_points(np.array([[0, 0], [side, 0], [0, side], [side, side]]),
                               invert_matrix(aligned.matrix))
    # the crop's edge lies half a crop pixel beyond its corner pixels' centres, the warp
    # back samples one more, and the alpha blend's feathering spreads a few frame pixels
    reach = 1.5 * np.linalg.norm(corners[1] - corners[0]) / side + 3.0
    rows, cols = np.nonzero(changed)
    assert changed.mean() > 0.1
    assert corners[:, 0].min() - reach <= cols.min()
    assert cols.max() <= corners[:, 0].max() + reach
    assert corners[:, 1].min() - reach <= rows.min()
    assert rows.max() <= corners[:, 1].max() + reach


def test_the_pasted_hull_stays_inside_the_crop_at_face_coverage(model):
    # A crop at face coverage shows only the forehead's lower part: the pasted hull must end
    # in a rounded forehead inside the crop, not be cut straight by the crop's top edge.
    from doppel.faces.align import align_face
    from doppel.swap.model import FOREHEAD_INSET

    frame, points68, _ = frontal_face(512)
    swapper = SWAPPERS.get("model")(model, mask="hull", blend="alpha", feather=0.5)
    assert swapper.coverage == "face"
    aligned = align_face(frame.rgb, points68, swapper.resolution, "face")
    white = np.full_like(aligned.image, 255)
    output = swapper.paste(frame.rgb, aligned, white, np.full(white.shape[:2], 255, np.uint8))
    # the output seen through the same alignment, at 8x the crop's pixels
    size = 8 * swapper.resolution
    big = align_face(output, points68, size, "face").image
    was = align_face(frame.rgb, points68, size, "face").image
    changed = np.abs(big.astype(int) - was).max(axis=2) > 40
    rows = np.nonzero(changed.any(axis=1))[0]
    assert rows.min() >= 0.8 * FOREHEAD_INSET * size  # nothing pasted at the crop's top edge
    # and the forehead's top is rounded: the topmost changed row is narrower than the one
    # a tenth of the crop below it (a straight cut would make them about equally wide)
    width = changed.sum(axis=1)
    assert width[rows.min() + 2] < 0.85 * width[rows.min() + size // 10]


def test_the_model_swapper_needs_a_model(tmp_path):
    with pytest.raises(DoppelError, match="needs a trained model"):
        SWAPPERS.get("model")()
    with pytest.raises(DoppelError, match="no model in"):
        SWAPPERS.get("model")(tmp_path / "nothing")


def test_video_colour_follows_the_target_smoothly_not_frame_by_frame(model):
    from doppel.swap.colour import lab_stats
    from doppel.swap.model import COLOUR_SMOOTHING

    swapper = SWAPPERS.get("model")(model, colour="reinhard")
    swapper.temporal = True
    rng = np.random.default_rng(0)
    face = np.clip(rng.normal(150, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    dark, bright = (np.clip(rng.normal(level, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
                    for level in (80, 160))
    mask = np.full((64, 64), 255, np.uint8)
    lightness = []
    for target in (dark, dark, bright):
        lightness.append(lab_stats(swapper._steady_reinhard(face, target, mask, 7), mask)[0][0])
    step = lab_stats(bright, mask)[0][0] - lab_stats(dark, mask)[0][0]
    assert lightness[1] == pytest.approx(lightness[0], abs=0.5)
    # a sudden change of light moves the face's colour by the smoothing share only
    assert lightness[2] - lightness[1] == pytest.approx(COLOUR_SMOOTHING * step, rel=0.15)
    swapper.forget()
    jumped = lab_stats(swapper._steady_reinhard(face, bright, mask, 7), mask)[0][0]
    assert jumped == pytest.approx(lab_stats(bright, mask)[0][0], abs=1.0)


def test_faces_swapped_in_a_batch_are_those_swapped_one_by_one(model):
    # Batching is only about speed: a face drawn beside others is drawn the same, and frames
    # without faces come back untouched.
    frame, _, face = frontal_face(256)
    swapper = SWAPPERS.get("model")(model)
    biases = swapper.network._biases
    biases["decoders.source.out"] = biases["decoders.source.out"].copy()
    biases["decoders.source.out"][3] = 20.0  # a full mask: the drawn face shows
    shifted = np.roll(frame.rgb, 7, axis=1)
    moved = type(face)(box=face.box, score=face.score, landmarks=face.landmarks + (7, 0),
                       points68=face.points68 + (7, 0), pose=face.pose)
    alone = [swapper.swap_frame(frame.rgb, face), swapper.swap_frame(shifted, moved)]
    together = [rgb for rgb, _ in swapper.swap_frames(
        [(frame.rgb, [face]), (shifted, []), (shifted, [moved])])]
    assert not np.array_equal(alone[0], frame.rgb)
    assert np.array_equal(together[0], alone[0])
    assert together[1] is shifted
    assert np.abs(together[2].astype(int) - alone[1]).max() <= 1
