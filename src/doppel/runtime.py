"""Where and how work runs: device, threads, user locations, progress display.

The CLI builds one Runtime from global options and the user's environment and passes it to
each command; the library itself reads no environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from doppel.config import check_fields
from doppel.errors import DoppelError

Device = Literal["auto", "cpu", "cuda", "mps"]


@dataclass(frozen=True)
class Runtime:
    device: Device = field(default="auto", metadata={"help": "compute device; auto picks "
                                                     "cuda, then mps, then cpu"})
    threads: int = field(default=0, metadata={"help": "CPU threads to use (0: all cores)",
                                              "min": 0})
    config_dir: Path | None = field(default=None, metadata={"help": "user settings directory"})
    cache_dir: Path | None = field(default=None, metadata={"help": "cache directory"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def __post_init__(self) -> None:
        check_fields(self)


def resolve_device(device: Device) -> str:
    """The torch device name to use; asking for one that is absent is a user error. The CPU
    is answered without importing torch (~2.3 s here) when torch cannot offer anything else."""
    if device == "cpu" or (device == "auto" and _torch_is_cpu_only()):
        return "cpu"
    import torch  # heavy: only commands that compute need it

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DoppelError("--device cuda was asked for but no CUDA GPU is visible: use --device cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise DoppelError("--device mps was asked for but Metal is not available: use --device cpu")
    return device


def _torch_is_cpu_only() -> bool:
    """True for torch's CPU-only Linux and Windows builds (their version ends "+cpu"), read
    from the installed package's metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch").endswith("+cpu")
    except PackageNotFoundError:
        return True


def apply_threads(threads: int) -> None:
    """Cap torch's and OpenCV's threads when the user asked for a number."""
    if threads:
        import cv2
        import torch

        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep memory a loop frees for the next allocation, instead of handing
    it back to the kernel and faulting it in again page by page (Linux only; elsewhere
    nothing happens and False comes back).

    Why: a training step frees and re-allocates the same few MB blocks of tensors every step.
    glibc gives large blocks back (mmap'd ones at once, the heap's top beyond 128 KiB of
    slack), and taking each 4 KiB page back costs a fault and a zeroing: `doppel train` tiny
    at 32 faces a side spent 23-44 ms of system time a step that way on 2 cores, 2-9 ms with
    this (about 4 % of a step's CPU time; the steps themselves vary ~10 % on this VM). The
    price is memory kept for reuse, bounded by what a step needs at its peak.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # this process's own C library
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    # 32 MiB is the largest mmap threshold glibc takes; blocks above it still come and go.
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))
