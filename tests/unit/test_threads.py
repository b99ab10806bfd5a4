"""The pipeline thread helpers: order kept, errors brought back to the caller."""

from __future__ import annotations

import threading
import time

import pytest

from doppel.threads import Behind, ahead


def test_ahead_yields_in_order_from_another_thread_and_raises_its_errors():
    threads = set()

    def numbers():
        for number in range(10):
            threads.add(threading.current_thread().name)
            yield number
        raise ValueError("broken input")

    seen = []
    with pytest.raises(ValueError, match="broken input"):
        for number in ahead(numbers(), "test"):
            seen.append(number)
    assert seen == list(range(10)) and threads == {"doppel-test"}


def test_behind_consumes_in_order_and_waits_for_everything_at_the_end():
    done = []

    def consume(item):
        time.sleep(0.01)
        done.append((item, threading.current_thread().name))

    with Behind(consume, "test", pending=2) as behind:
        for item in range(8):
            behind.put(item)
    assert [item for item, _ in done] == list(range(8))
    assert {name for _, name in done} == {"doppel-test_0"}


def test_behind_brings_errors_back_and_stops_after_one():
    done = []

    def consume(item):
        if item == 2:
            raise OSError("disk full")
        done.append(item)

    with pytest.raises(OSError, match="disk full"):
        with Behind(consume, "test", pending=1) as behind:
            for item in range(6):
                behind.put(item)
    assert done == [0, 1]
