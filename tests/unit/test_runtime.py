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


def test_the_cpu_is_chosen_without_importing_torch_when_torch_has_only_the_cpu():
    # Importing torch costs seconds; a CPU-only swap must not pay for it.
    import subprocess
    import sys
    from importlib.metadata import version

    if not version("torch").endswith("+cpu"):
        pytest.skip("this torch build may offer a GPU")
    code = ("import sys; from doppel.runtime import resolve_device; "
            "print(resolve_device('auto'), resolve_device('cpu'), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["cpu", "cpu", "False"]


def test_freed_memory_is_kept_for_the_next_allocation_on_linux():
    # A training step frees and takes back the same blocks every step: with glibc's defaults
    # the second 16 MiB block is faulted in page by page again, kept memory is not.
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc only")
    code = ("import resource, sys, numpy as np\n"
            "from doppel.runtime import keep_freed_memory\n"
            "kept = keep_freed_memory() if sys.argv[1] == 'keep' else None\n"
            "np.ones(16 << 20, np.uint8)\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "np.ones(16 << 20, np.uint8)\n"
            "print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)")
    answers = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True,
                                    text=True, check=True).stdout.split()
               for mode in ("keep", "default")}
    assert answers["keep"][0] == "True"
    faults = {mode: int(answer[1]) for mode, answer in answers.items()}
    # ~500 faults by default here (numpy asks for huge pages on big arrays), none kept.
    assert faults["default"] > 100
    assert faults["keep"] * 5 < faults["default"]
