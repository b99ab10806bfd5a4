import json
import random

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from doppel.errors import DoppelError
from doppel.train import checkpoint
from doppel.train.checkpoint import (
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    STATE_FILE,
    capture_rng,
    load_weights,
    read_meta,
    read_train_state,
    restore_rng,
    save_model,
)


def make_net(seed: int, width: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.Flatten(), nn.Linear(width * 4, 2))


def make_meta(step: int = 10) -> dict:
    return {"architecture": "tiny", "resolution": 4, "identities": ["a", "b"],
            "consents": ["c0ffee"], "step": step, "config": {"lr": 0.001, "batch": 2}}


def assert_same_weights(left: nn.Module, right: nn.Module) -> None:
    right_state = right.state_dict()
    for name, tensor in left.state_dict().items():
        assert torch.equal(tensor, right_state[name]), name


def leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if "partial" in path.name)


def test_round_trip_weights_meta_and_model_json(tmp_path):
    folder = tmp_path / "models" / "alice"  # created on save
    net, fresh = make_net(0), make_net(1)
    meta = make_meta()
    save_model(folder, net, meta)

    assert not torch.equal(fresh[0].weight, net[0].weight)
    assert load_weights(folder, fresh) == {**meta, "format_version": FORMAT_VERSION}
    assert_same_weights(net, fresh)
    stored = read_meta(folder)
    assert stored == {**meta, "format_version": FORMAT_VERSION}
    assert "format_version" not in meta  # the caller's dict is left alone
    text = (folder / META_FILE).read_text(encoding="utf-8")
    assert json.loads(text) == stored
    assert text == json.dumps(stored, indent=2, sort_keys=True) + "\n"
    assert not (folder / STATE_FILE).exists()
    assert leftovers(folder) == []


@pytest.mark.parametrize("other", [
    lambda: make_net(1, width=5),  # every shape differs
    lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(16, 2), nn.Linear(2, 2)),
    lambda: nn.Sequential(nn.Conv2d(3, 4, 3)),  # weights in the file the network lacks
])
def test_loading_into_another_architecture_says_so(tmp_path, other):
    save_model(tmp_path, make_net(0), make_meta())
    network = other()
    before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    with pytest.raises(DoppelError, match="another architecture or resolution") as caught:
        load_weights(tmp_path, network)
    assert "architecture tiny, resolution 4" in str(caught.value)
    assert "\n" not in str(caught.value)
    for name, tensor in network.state_dict().items():
        assert torch.equal(tensor, before[name])  # nothing half-loaded


def write_model_file(folder, data: bytes):
    folder.mkdir(exist_ok=True)
    (folder / MODEL_FILE).write_bytes(data)


def saved_bytes(tmp_path) -> bytes:
    source = tmp_path / "source"
    save_model(source, make_net(0), make_meta())
    return (source / MODEL_FILE).read_bytes()


def test_missing_folder_or_file(tmp_path):
    with pytest.raises(DoppelError, match=r"no model in .*nowhere: train one with doppel train"):
        read_meta(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DoppelError, match="no model in .*empty.*model.safetensors"):
        load_weights(tmp_path / "empty", make_net(0))
    (tmp_path / "file").write_text("x")
    with pytest.raises(DoppelError, match="is a file, not a model folder"):
        read_meta(tmp_path / "file")


@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_damaged_or_foreign_file(tmp_path, damage):
    data = saved_bytes(tmp_path)
    data = {"truncated": data[: len(data) // 2], "empty": b"",
            "text": b"this is not a model\n" * 20}[damage]
    write_model_file(tmp_path / "model", data)
    with pytest.raises(DoppelError, match="damaged or not a safetensors file.*restore") as caught:
        read_meta(tmp_path / "model")
    assert "\n" not in str(caught.value)
    with pytest.raises(DoppelError, match="damaged or not a safetensors file"):
        load_weights(tmp_path / "model", make_net(0))


def test_safetensors_file_without_doppel_meta(tmp_path):
    (tmp_path / "model").mkdir()
    safetensors.torch.save_file(make_net(0).state_dict(), str(tmp_path / "model" / MODEL_FILE))
    with pytest.raises(DoppelError, match="not a doppel model"):
        read_meta(tmp_path / "model")


@pytest.mark.parametrize("description", ["{not json", json.dumps(["a"]), json.dumps({"x": 1}),
                                         json.dumps({"format_version": "1"})])
def test_damaged_description(tmp_path, description):
    (tmp_path / "model").mkdir()
    safetensors.torch.save_file(make_net(0).state_dict(), str(tmp_path / "model" / MODEL_FILE),
                                metadata={"doppel": description})
    with pytest.raises(DoppelError, match="damaged description"):
        read_meta(tmp_path / "model")


def test_newer_format_version_asks_for_an_upgrade(tmp_path):
    (tmp_path / "model").mkdir()
    description = json.dumps({**make_meta(), "format_version": FORMAT_VERSION + 1})
    safetensors.torch.save_file(make_net(0).state_dict(), str(tmp_path / "model" / MODEL_FILE),
                                metadata={"doppel": description})
    with pytest.raises(DoppelError, match=f"format version {FORMAT_VERSION + 1}.*upgrade doppel"):
        read_meta(tmp_path / "model")


@pytest.mark.parametrize("meta", [{"path": object()}, {"loss": float("nan")}, {"ids": {1, 2}}])
def test_meta_must_be_json(tmp_path, meta):
    with pytest.raises(ValueError, match="JSON"):
        save_model(tmp_path / "model", make_net(0), meta)
    assert not (tmp_path / "model").exists()


def test_state_must_be_plain_data_at_the_meta_step(tmp_path):
    net = make_net(0)
    with pytest.raises(ValueError, match="ndarray"):
        save_model(tmp_path / "model", net, make_meta(3), {"step": 3, "x": [np.zeros(2)]})
    with pytest.raises(ValueError, match="step"):
        save_model(tmp_path / "model", net, make_meta(3), {"step": 4})
    assert not (tmp_path / "model").exists()


def fake_save_file_killed_midway(tensors, filename, metadata=None):
    with open(filename, "wb") as handle:
        handle.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"half\":")  # partly written
    raise KeyboardInterrupt


def fake_torch_save_killed_midway(obj, f, *args, **kwargs):
    with open(f, "wb") as handle:
        handle.write(b"PK\x03\x04partly written")
    raise KeyboardInterrupt


@pytest.mark.parametrize("target, name, fake", [
    (safetensors.torch, "save_file", fake_save_file_killed_midway),
    (torch, "save", fake_torch_save_killed_midway),
])
def test_kill_during_save_keeps_the_previous_model(tmp_path, monkeypatch, target, name, fake):
    old = make_net(0)
    save_model(tmp_path, old, make_meta(10), {"step": 10, "optimizer": {"lr": torch.ones(2)}})
    monkeypatch.setattr(target, name, fake)

    with pytest.raises(KeyboardInterrupt):
        save_model(tmp_path, make_net(1), make_meta(20), {"step": 20})

    monkeypatch.undo()
    fresh = make_net(2)
    assert load_weights(tmp_path, fresh)["step"] == 10
    assert_same_weights(old, fresh)
    assert json.loads((tmp_path / META_FILE).read_text())["step"] == 10
    assert leftovers(tmp_path) == []
    if target is torch:  # killed before the weights: the old pair is intact and resumable
        assert read_train_state(tmp_path)["step"] == 10
    else:  # killed between train-state and weights: the documented refusal
        with pytest.raises(DoppelError, match=r"train-state.pt is from step 20 but the model is "
                                              r"at step 10 .*: delete .*fresh optimizer"):
            read_train_state(tmp_path)


def test_state_from_another_step_is_refused_until_deleted(tmp_path):
    net = make_net(0)
    save_model(tmp_path, net, make_meta(5), {"step": 5})
    torch.save({"step": 7}, tmp_path / STATE_FILE)  # as a kill between the renames leaves it
    with pytest.raises(DoppelError, match="from step 7 but the model is at step 5") as caught:
        read_train_state(tmp_path)
    assert "\n" not in str(caught.value)
    (tmp_path / STATE_FILE).unlink()  # what the message says to do
    assert read_train_state(tmp_path) is None
    assert load_weights(tmp_path, make_net(1))["step"] == 5


def test_saving_without_state_removes_a_stale_one(tmp_path):
    save_model(tmp_path, make_net(0), make_meta(5), {"step": 5})
    save_model(tmp_path, make_net(0), make_meta(6))
    assert not (tmp_path / STATE_FILE).exists()
    assert read_train_state(tmp_path) is None


def test_weights_are_safetensors_not_pickle(tmp_path):
    net = make_net(0)
    save_model(tmp_path, net, make_meta())
    data = (tmp_path / MODEL_FILE).read_bytes()
    header_size = int.from_bytes(data[:8], "little")
    assert data[8:9] == b"{" and json.loads(data[8:8 + header_size])["__metadata__"]["doppel"]
    loaded = safetensors.torch.load_file(str(tmp_path / MODEL_FILE))
    assert set(loaded) == set(net.state_dict())


def test_train_state_that_would_run_code_is_refused(tmp_path):
    save_model(tmp_path, make_net(0), make_meta(1))
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').close()",)

    torch.save({"step": 1, "x": Payload()}, tmp_path / STATE_FILE)
    with pytest.raises(DoppelError, match="damaged or holds more than tensors"):
        read_train_state(tmp_path)
    assert not marker.exists()


def test_damaged_train_state(tmp_path):
    save_model(tmp_path, make_net(0), make_meta(1), {"step": 1})
    data = (tmp_path / STATE_FILE).read_bytes()
    (tmp_path / STATE_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(DoppelError, match="damaged.*: delete .*train-state.pt") as caught:
        read_train_state(tmp_path)
    assert "\n" not in str(caught.value)


def draw(rng: np.random.Generator) -> tuple:
    return torch.rand(5).tolist(), rng.random(5).tolist(), [random.random() for _ in range(5)]


def test_resume_restores_optimizer_and_random_streams(tmp_path):
    net = make_net(0)
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.01)
    batch = torch.randn(2, 3, 4, 4)
    net(batch).square().mean().backward()
    optimizer.step()
    rng = np.random.default_rng(123)
    torch.manual_seed(7)
    random.seed(9)
    draw(rng)  # mid-stream, not at a seed
    state = {"step": 1, "optimizer": optimizer.state_dict(), "rng": capture_rng(rng)}
    save_model(tmp_path, net, make_meta(1), state)
    expected = draw(rng)
    optimizer.zero_grad()
    net(batch).square().mean().backward()
    optimizer.step()

    other_rng = np.random.default_rng(999)
    torch.manual_seed(999)
    random.seed(999)
    loaded = read_train_state(tmp_path)  # weights_only=True inside
    assert torch.load(tmp_path / STATE_FILE, weights_only=True)["step"] == 1
    restore_rng(loaded["rng"], other_rng)
    assert draw(other_rng) == expected

    resumed = make_net(5)
    load_weights(tmp_path, resumed)
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=0.01)
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    resumed_optimizer.zero_grad()
    resumed(batch).square().mean().backward()
    resumed_optimizer.step()
    assert_same_weights(net, resumed)  # the step after resume matches the uninterrupted one


def test_rng_with_array_state_is_captured_as_plain_data(tmp_path):
    rng = np.random.Generator(np.random.MT19937(4))  # its state holds a numpy array
    state = capture_rng(rng)
    checkpoint._check_plain(state, "rng")
    torch.save(state, tmp_path / "rng.pt")
    expected = rng.random(3).tolist()
    restored = np.random.Generator(np.random.MT19937(1))
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True), restored)
    assert restored.random(3).tolist() == expected
