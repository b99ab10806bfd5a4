"""A model file without torch: its name, its meta, its tensors as numpy arrays. Training writes
it (doppel.train.checkpoint); the CPU swap reads it here without importing torch (~2.3 s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import safetensors
import safetensors.numpy

from doppel.errors import DoppelError

MODEL_FILE = "model.safetensors"
META_FILE = "model.json"
STATE_FILE = "train-state.pt"
FORMAT_VERSION = 1  # bump when the weights' layout or the meta change incompatibly
META_KEY = "doppel"  # the safetensors header key that holds the meta as JSON


def read_meta(folder: Path) -> dict[str, Any]:
    """The meta stored in folder/model.safetensors; reads the header only, not the tensors."""
    path = _model_path(Path(folder))
    try:
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            header = handle.metadata() or {}
    except safetensors.SafetensorError as error:
        raise DoppelError(f"{path} is damaged or not a safetensors file ({error}): restore it "
                          "from a backup or train the model again") from None
    except OSError as error:
        raise DoppelError(f"cannot read {path} ({error.strerror}): check its permissions") from None
    if META_KEY not in header:
        raise DoppelError(f"{path} is not a doppel model (it has no doppel description): "
                          "give a model folder written by doppel train")
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError:
        meta = None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DoppelError(f"{path} has a damaged description: restore it from a backup or train "
                          "the model again")
    if version > FORMAT_VERSION:
        raise DoppelError(f"model {folder} has format version {version}, newer than this doppel "
                          f"reads ({FORMAT_VERSION}): upgrade doppel")
    return meta


def read_arrays(folder: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The weights in folder/model.safetensors as float32 numpy arrays, by name."""
    path = _model_path(Path(folder))
    try:
        arrays = safetensors.numpy.load_file(str(path))
    except safetensors.SafetensorError as error:
        raise DoppelError(f"{path} is damaged ({error}): restore it from a backup or train the "
                          "model again") from None
    return {name: array.astype(np.float32, copy=False) for name, array in arrays.items()}


def _model_path(folder: Path) -> Path:
    if not folder.exists():
        raise DoppelError(f"no model in {folder}: train one with doppel train, or give the folder "
                          "that holds model.safetensors")
    if not folder.is_dir():
        raise DoppelError(f"{folder} is a file, not a model folder: give the folder that holds "
                          f"{MODEL_FILE}")
    path = folder / MODEL_FILE
    if not path.is_file():
        raise DoppelError(f"no model in {folder} (it has no {MODEL_FILE}): train one with doppel "
                          "train, or give the folder that holds it")
    return path


def describe_mismatch(saved: dict[str, Any], wanted: dict[str, Any]) -> str:
    """What differs between saved and wanted tensors (anything with a .shape), briefly; empty
    when they match."""
    missing = [name for name in wanted if name not in saved]
    unexpected = [name for name in saved if name not in wanted]
    shapes = [f"{name} is {list(saved[name].shape)} in the file, {list(wanted[name].shape)} "
              "in the network" for name in wanted
              if name in saved and tuple(saved[name].shape) != tuple(wanted[name].shape)]
    parts = []
    if missing:
        parts.append(f"missing from the file: {_first(missing)}")
    if unexpected:
        parts.append(f"not in the network: {_first(unexpected)}")
    if shapes:
        parts.append(_first(shapes))
    return "; ".join(parts)


def _first(items: list[str], count: int = 3) -> str:
    more = f" and {len(items) - count} more" if len(items) > count else ""
    return ", ".join(items[:count]) + more


def describe_build(meta: dict[str, Any]) -> str:
    known = [f"{key} {meta[key]}" for key in ("architecture", "resolution") if key in meta]
    return "model: " + (", ".join(known) or "no architecture or resolution in its meta")
