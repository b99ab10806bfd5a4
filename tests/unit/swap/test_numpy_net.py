"""The CPU swap's numpy network draws what torch's network draws, and refuses weights that are
not the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doppel.errors import DoppelError
from doppel.swap.numpy_net import NumpyNetwork, expected_shapes
from doppel.train.models import ARCHITECTURES, PRESETS, ModelOptions, build_model


def weights(architecture: str, preset: str) -> tuple[torch.nn.Module, dict[str, np.ndarray]]:
    torch.manual_seed(0)
    network = build_model(ModelOptions(architecture, preset)).eval()
    return network, {name: tensor.numpy() for name, tensor in network.state_dict().items()}


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_tensor_of_every_network_is_expected(architecture, preset):
    _, arrays = weights(architecture, preset)
    assert {name: array.shape for name, array in arrays.items()} == \
        expected_shapes(architecture, PRESETS[preset])


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
def test_numpy_and_torch_draw_the_same_faces(architecture):
    network, arrays = weights(architecture, "tiny")
    side = PRESETS["tiny"].resolution
    faces = np.random.default_rng(1).random((3, side, side, 3), dtype=np.float32)
    with torch.inference_mode():
        rgb, mask = network.swap(torch.from_numpy(faces.transpose(0, 3, 1, 2).copy()))
    drawn_rgb, drawn_mask = NumpyNetwork(arrays, architecture, "tiny").swap(faces)
    assert drawn_rgb.shape == (3, side, side, 3) and drawn_mask.shape == (3, side, side)
    np.testing.assert_allclose(drawn_rgb, rgb.numpy().transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(drawn_mask, mask[:, 0].numpy(), atol=1e-5)
    # the source's decoder drew them, not the target's
    if architecture == "df":
        with torch.inference_mode():
            other, _ = network.reconstruct(torch.from_numpy(faces.transpose(0, 3, 1, 2).copy()),
                                           "target")
        assert np.abs(drawn_rgb - other.numpy().transpose(0, 2, 3, 1)).max() > 1e-3


def test_weights_of_another_network_are_refused():
    _, arrays = weights("df", "tiny")
    with pytest.raises(DoppelError, match="not those of a df base network"):
        NumpyNetwork(arrays, "df", "base")
    with pytest.raises(DoppelError, match="liae tiny"):
        NumpyNetwork(arrays, "liae", "tiny")
    with pytest.raises(DoppelError, match="preset 'huge'"):
        NumpyNetwork(arrays, "df", "huge")
