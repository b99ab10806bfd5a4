"""Training batches made ahead of the step that needs them, on worker threads.

A step's batch depends on the run's seed and the step's number only (`step_rng`), never on
the batches before it: batches can then be made in any order on any number of threads, and a
run resumed at step k sees the batches a run that never stopped would have seen.

Why threads beside a GPU: augmentation is numpy and OpenCV work, one call per picture, and
both release the GIL inside each call. There the batches are the work: `doppel train` hq on
an H100 ran at 350 images/s with one thread making them and 914-980 with eight, where the
network's step alone takes 2,230 (benchmarks/gpu_check.py, BENCHMARKS.md); eight threads are
2.6x one, not 8x, so processes are the next step there.

Why none on a CPU: the network's step already keeps every core busy with torch's threads,
which wait for each other many times a step; a batch made beside it takes a core from one of
them for its ~20 ms and holds up the others too. tiny at 32 a side on 2 cores, alternated in
one session: the step took ~420 ms with the next batch made beside it (the batch ~37 ms of
wall time) against ~390 with the batch made first (~18 ms), 148-155 images/s against
150-168 end to end.
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
    """Threads making batches: none on a CPU (each batch is made when its step asks for it:
    the network computes on every core already), as many as the cores allow, up to 8,
    beside a GPU."""
    if device_type == "cpu":
        return 0
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class BatchFeeder(Generic[Batch]):
    """make(step) for the steps from `first` on, `ahead` steps ahead on `workers` threads
    (0: none; each is made in `take`, in the caller's thread); `take` hands them out in
    order. Close it (or use it as a context manager) to stop the threads; batches made ahead
    and never taken are dropped."""

    def __init__(self, make: Callable[[int], Batch], first: int, workers: int,
                 ahead: int | None = None) -> None:
        self._make = make
        self._pool = None if workers < 1 else ThreadPoolExecutor(
            workers, thread_name_prefix="doppel-batches")
        self._ahead = max(1, ahead if ahead is not None else 2 * workers)
        self._queue: deque[tuple[int, Future[Batch]]] = deque()
        self._next = first

    def take(self, step: int) -> Batch:
        """The batch for `step`, which must be the step after the last one taken (or
        `first`)."""
        if self._pool is None:
            if step != self._next:
                raise ValueError(f"asked for step {step}'s batch, the next one made is "
                                 f"{self._next}'s")
            self._next += 1
            return self._make(step)
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
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchFeeder[Batch]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
