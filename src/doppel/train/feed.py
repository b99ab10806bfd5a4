"""Training batches made ahead of the step that needs them, on worker threads.

A step's batch depends on the run's seed and the step's number only (`step_rng`), never on
the batches before it: batches can then be made in any order on any number of threads, and a
run resumed at step k sees the batches a run that never stopped would have seen.

Why threads: augmentation is numpy and OpenCV work, one call per picture, and both release
the GIL inside each call. Beside a GPU the batches are the work: `doppel train` hq on an
H100 ran at 350 images/s with one thread making them and 914-980 with eight, where the
network's step alone takes 2,230 (benchmarks/gpu_check.py, BENCHMARKS.md); eight threads are
2.6x one, not 8x, so processes are the next step there. On 2 CPU cores one thread making the
next batch beside the network's step is as fast as making it in the step (within the VM's
noise), and keeps one way of making batches.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np

Batch = TypeVar("Batch")


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The random numbers of one step's batch: the same for the same seed and step."""
    return np.random.default_rng([seed, step])


def feed_workers(device_type: str) -> int:
    """Threads making batches: one beside the network on a CPU (it computes on every core
    already), as many as the cores allow, up to 8, beside a GPU."""
    if device_type == "cpu":
        return 1
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class BatchFeeder(Generic[Batch]):
    """make(step) for the steps from `first` on, `ahead` steps ahead on `workers` threads;
    `take` hands them out in order. Close it (or use it as a context manager) to stop the
    threads; batches made ahead and never taken are dropped."""

    def __init__(self, make: Callable[[int], Batch], first: int, workers: int,
                 ahead: int | None = None) -> None:
        self._make = make
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="doppel-batches")
        self._ahead = max(1, ahead if ahead is not None else 2 * workers)
        self._queue: deque[tuple[int, Future[Batch]]] = deque()
        self._next = first

    def take(self, step: int) -> Batch:
        """The batch for `step`, which must be the step after the last one taken (or
        `first`)."""
        while len(self._queue) < self._ahead:
            self._queue.append((self._next, self._pool.submit(self._make, self._next)))
            self._next += 1
        queued, future = self._queue.popleft()
        if queued != step:
            raise ValueError(f"asked for step {step}'s batch, the next one made is {queued}'s")
        return future.result()

    def close(self) -> None:
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchFeeder[Batch]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
