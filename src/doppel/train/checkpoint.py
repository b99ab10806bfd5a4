"""A trained model's folder: weights and description in model.safetensors, resume state beside it.

model.safetensors is the model: the weights plus the meta (JSON under the header key "doppel").
model.json is a readable copy of the meta; train-state.pt holds what exact resume needs
(optimizer, step, RNG states), loaded with weights_only=True so it can never run code.

Save order is train-state.pt, then model.safetensors, then model.json, each renamed into place
atomically. A kill between the first two renames leaves a train-state one save ahead of the
weights; read_train_state notices the step mismatch and refuses it with what to do (delete it
and resume from the weights with a fresh optimizer) rather than pairing the wrong optimizer state
with the weights.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch

from doppel.errors import DoppelError
from doppel.files import atomic_path, make_output_folder
from doppel.train.modelfile import FORMAT_VERSION, META_FILE, META_KEY, MODEL_FILE, \
    STATE_FILE, describe_build, describe_mismatch, read_meta


# What torch.load(weights_only=True) reads back; tuples and dict subclasses included.
_PLAIN_TYPES = (torch.Tensor, str, int, float, bool, type(None))


def save_model(
    folder: Path,
    model: torch.nn.Module,
    meta: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> None:
    """Write `state` (if given), then the weights with `meta`, then model.json, each atomically.

    The stored meta is `meta` plus "format_version". It must be JSON (ValueError otherwise);
    tuples come back as lists. `state` must carry the same "step" as `meta` and hold only
    tensors and plain data (ValueError otherwise). Saving without `state` removes an older
    train-state.pt, which would no longer match the weights. Creates `folder` if missing.
    """
    folder = Path(folder)
    meta = {**meta, "format_version": FORMAT_VERSION}
    meta_text = _meta_json(meta)
    if state is not None:
        _check_state(state, meta)
    make_output_folder(folder, "model folder")
    if state is not None:
        with atomic_path(folder / STATE_FILE) as temp:
            torch.save(state, temp)
    tensors = {name: tensor.detach().cpu().contiguous()
               for name, tensor in model.state_dict().items()}
    with atomic_path(folder / MODEL_FILE) as temp:
        safetensors.torch.save_file(tensors, str(temp), metadata={META_KEY: meta_text})
    if state is None:
        (folder / STATE_FILE).unlink(missing_ok=True)
    text = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with atomic_path(folder / META_FILE) as temp:
        temp.write_text(text, encoding="utf-8")


def load_weights(folder: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load the weights into `model`, every name and shape matching; return the meta."""
    folder = Path(folder)
    meta = read_meta(folder)
    try:
        tensors = safetensors.torch.load_file(str(folder / MODEL_FILE), device="cpu")
    except safetensors.SafetensorError as error:
        raise DoppelError(f"{folder / MODEL_FILE} is damaged ({error}): restore it from a backup "
                          "or train the model again") from None
    mismatch = describe_mismatch(tensors, model.state_dict())
    if mismatch:
        raise DoppelError(f"model {folder} was trained with another architecture or resolution "
                          f"than the network given ({describe_build(meta)}; {mismatch}): build "
                          "the network with the model's architecture and resolution")
    model.load_state_dict(tensors, strict=True)
    return meta


def read_train_state(folder: Path) -> dict[str, Any] | None:
    """folder/train-state.pt loaded with weights_only=True, or None when there is none.

    DoppelError when it is damaged, holds anything but tensors and plain data, or is from
    another step than the model's weights (a save was interrupted between the two files).
    """
    folder = Path(folder)
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    advice = f"delete {path} to resume from the model's weights with a fresh optimizer"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file fails as RuntimeError, EOFError, KeyError, ...
        reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
        raise DoppelError(f"{path} is damaged or holds more than tensors and plain data "
                          f"({reason}): {advice}") from None
    step = state.get("step") if isinstance(state, dict) else None
    if not isinstance(step, int):
        raise DoppelError(f"{path} has no step, so it is not a doppel train-state: {advice}")
    model_step = read_meta(folder).get("step")
    if step != model_step:
        raise DoppelError(f"{path} is from step {step} but the model is at step {model_step} "
                          f"(a save was interrupted): {advice}")
    return state


def capture_rng(rng: np.random.Generator | None = None) -> dict[str, Any]:
    """The states of torch's global generators, python's random and `rng` (when given), as
    plain data."""
    state = {
        "torch": torch.get_rng_state(),
        "python": _plain(random.getstate()),
    }
    if rng is not None:
        state["numpy"] = _plain(rng.bit_generator.state)
    # Only when already in use: asking earlier would start CUDA in a CPU-only run.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], rng: np.random.Generator | None = None) -> None:
    """Put back what capture_rng returned: torch and python globally, `rng` (when given and
    saved) in place.

    CUDA states are restored when this machine has CUDA; a CPU resume of a GPU run skips them.
    """
    torch.set_rng_state(state["torch"])
    if rng is not None and "numpy" in state:
        rng.bit_generator.state = state["numpy"]
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])


def _meta_json(meta: dict[str, Any]) -> str:
    try:
        return json.dumps(meta, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model meta must be JSON data: {error}") from None


def _check_state(state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Fail before writing anything when `state` could not be resumed from."""
    if state.get("step") != meta.get("step") or not isinstance(state.get("step"), int):
        raise ValueError(f"train state step {state.get('step')!r} must be an int equal to the "
                         f"meta's step {meta.get('step')!r}")
    _check_plain(state, "state")


def _check_plain(value: Any, where: str) -> None:
    """Raise ValueError naming the first value torch.load(weights_only=True) would refuse."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, _PLAIN_TYPES):
        raise ValueError(f"{where} is a {type(value).__name__}: a train state holds only "
                         "tensors, dicts, lists, tuples, str, int, float, bool and None")


def _plain(value: Any) -> Any:
    """`value` with numpy arrays and scalars as lists and Python numbers, tuples as lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value
