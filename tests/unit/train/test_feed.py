"""Batches made ahead on threads: in order, the same whatever the threads, and stopped
cleanly."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from doppel.train.feed import BatchFeeder, feed_workers, step_rng


def test_a_steps_random_numbers_depend_on_the_seed_and_step_only():
    assert step_rng(3, 10).random() == step_rng(3, 10).random()
    assert step_rng(3, 10).random() != step_rng(3, 11).random()
    assert step_rng(3, 10).random() != step_rng(4, 10).random()


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_batches_come_in_step_order_from_any_number_of_threads(workers):
    def make(step: int) -> tuple[int, float]:
        time.sleep(0.01 * (step % 3))  # finished out of order
        return step, float(step_rng(0, step).random())

    with BatchFeeder(make, first=5, workers=workers) as feeder:
        taken = [feeder.take(step) for step in range(5, 15)]
    assert [step for step, _ in taken] == list(range(5, 15))
    assert [value for _, value in taken] == [step_rng(0, step).random() for step in range(5, 15)]


@pytest.mark.parametrize("workers", [0, 1])
def test_asking_out_of_order_is_an_error(workers):
    with BatchFeeder(lambda step: step, first=0, workers=workers) as feeder:
        feeder.take(0)
        with pytest.raises(ValueError, match="step 2"):
            feeder.take(2)


def test_closing_stops_its_threads_and_drops_what_was_made_ahead():
    made = []

    def make(step: int) -> int:
        made.append(step)
        return step

    before = threading.active_count()
    feeder = BatchFeeder(make, first=0, workers=2, ahead=4)
    assert feeder.take(0) == 0
    feeder.close()
    assert threading.active_count() == before
    assert max(made) <= 4  # never more than `ahead` steps beyond the last one taken


def test_an_error_making_a_batch_reaches_the_step_that_needs_it():
    def make(step: int) -> int:
        if step == 1:
            raise OSError("disk gone")
        return step

    with BatchFeeder(make, first=0, workers=2) as feeder:
        assert feeder.take(0) == 0
        with pytest.raises(OSError, match="disk gone"):
            feeder.take(1)


def test_no_thread_beside_a_cpu_network_some_beside_a_gpu():
    assert feed_workers("cpu") == 0
    assert feed_workers("cuda") >= 1


def test_without_workers_each_batch_is_made_when_taken_in_the_callers_thread():
    made = []

    def make(step: int) -> int:
        made.append((step, threading.current_thread().name))
        return step

    before = threading.active_count()
    with BatchFeeder(make, first=3, workers=0) as feeder:
        assert threading.active_count() == before
        assert made == []
        assert feeder.take(3) == 3
        assert made == [(3, threading.current_thread().name)]


def test_batches_are_numpy_arrays_made_on_other_threads():
    names = []

    def make(step: int) -> np.ndarray:
        names.append(threading.current_thread().name)
        return np.full(3, step)

    with BatchFeeder(make, first=0, workers=1) as feeder:
        assert feeder.take(0).tolist() == [0, 0, 0]
    assert all(name.startswith("doppel-batches") for name in names)
