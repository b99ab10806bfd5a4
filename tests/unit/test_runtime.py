import pytest

from doppel.errors import DoppelError
from doppel.runtime import Runtime, resolve_device


def test_cpu_is_always_available_and_auto_resolves():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")


def test_missing_accelerator_is_a_user_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(DoppelError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_runtime_checks_its_fields():
    with pytest.raises(DoppelError, match="--threads=-1 is out of range"):
        Runtime(threads=-1)
