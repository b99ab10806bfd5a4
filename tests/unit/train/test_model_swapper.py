"""The `model` swapper: a model from `doppel train` swaps a face in a frame."""

from __future__ import annotations

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.runtime import Runtime
from doppel.swap import SWAPPERS
from doppel.train.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def model(facesets, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "model"
    train(TrainConfig(source=facesets["source"], target=facesets["target"], output=folder,
                      steps=3, save_every=1000, preview_every=1000), Runtime(progress=False))
    return folder


def test_the_model_draws_where_its_mask_says_on_the_aligned_face(model):
    import torch

    from doppel.faces.align import align_face, invert_matrix, transform_points
    from doppel.faces.landmarks import points68_from_mediapipe
    from doppel.synth import neutral_performance, random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS
    from doppel.types import Face

    seed = POOL_SEEDS[1]
    frame = next(render(random_actor(seed), neutral_performance(1, 10.0), random_scene(seed),
                        256))
    points68 = points68_from_mediapipe(frame.landmarks)
    face = Face(box=(0.0, 0.0, 1.0, 1.0), score=1.0, landmarks=frame.landmarks,
                points68=points68, pose=frame.pose)
    swapper = SWAPPERS.get("model")(model)
    # Three steps teach no mask yet (it sits near 0.5, under the blend's threshold): nothing
    # is drawn. A mask forced to 1 must draw the whole aligned crop, and only it.
    assert np.array_equal(swapper.swap_frame(frame.rgb, face), frame.rgb)
    with torch.no_grad():
        swapper.network.decoders["source"].out.bias[3] = 20.0
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


def test_the_model_swapper_needs_a_model(tmp_path):
    with pytest.raises(DoppelError, match="needs a trained model"):
        SWAPPERS.get("model")()
    with pytest.raises(DoppelError, match="no model in"):
        SWAPPERS.get("model")(tmp_path / "nothing")
