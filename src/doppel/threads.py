"""Pipelines of threads: a generator's items produced ahead on a thread of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
PREFETCH = 4  # items a producer thread may run ahead


def ahead(items: Iterator[T], name: str, prefetch: int = PREFETCH) -> Iterator[T]:
    """`items`, produced up to `prefetch` ahead on a thread of its own: decoding, mediapipe,
    torch and encoding release the GIL, so stages chained this way overlap on the cores. An
    error on that thread is raised here; closing this generator stops it."""
    import queue
    import threading

    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        waiting.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(("end", None))
        except BaseException as error:  # handed over, raised on the consumer's thread
            waiting.put(("error", error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=f"doppel-{name}", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = waiting.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=5)


def started(work: Callable[..., T], name: str, *args: Any, **kwargs: Any) -> Future[T]:
    """`work(*args, **kwargs)` running on a thread of its own: its Future (the result, or its
    error raised by `result()`). For slow starts (loading models, building graphs) that can go
    on beside each other; whoever needs the result waits for it there."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1, thread_name_prefix=f"doppel-{name}")
    future = pool.submit(work, *args, **kwargs)
    pool.shutdown(wait=False)  # the work goes on; the thread ends with it
    return future


class Behind:
    """Hands items to `consume` on a thread of its own, in order, with at most `pending` not
    yet consumed (the caller waits beyond that): the last stage of a pipeline (labelling and
    encoding) off the caller's thread. An error there is raised in the caller at its next
    `put` or at the end. Leaving the `with` block waits for everything handed over; leaving
    it by an error or Ctrl-C drops what has not started and waits only for the item in hand,
    so whatever `consume` writes to is never used by two threads at once."""

    def __init__(self, consume: Any, name: str, pending: int = PREFETCH) -> None:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self._consume = consume
        self._pending = pending
        self._waiting: deque[Any] = deque()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"doppel-{name}")

    def put(self, item: Any) -> None:
        while len(self._waiting) >= self._pending:
            self._waiting.popleft().result()
        self._waiting.append(self._pool.submit(self._consume, item))

    def __enter__(self) -> Behind:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        try:
            if kind is None:
                while self._waiting:
                    self._waiting.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def one_model_thread(threads: int) -> Iterator[None]:
    """A network run per frame (numpy's BLAS; torch's threads are set where its network is
    loaded) keeps to one thread, so decoding, mediapipe and encoding have the other core: a
    BLAS pool waiting for a second core that is never free made a tiny swap model's 5-ms face
    take ~70 ms inside the swap pipeline, and the detector's 5-ms face ~15 ms (measured).
    `threads` (0: all) caps OpenCV's."""
    import cv2
    from threadpoolctl import threadpool_limits

    if threads:
        cv2.setNumThreads(threads)
    with threadpool_limits(1, user_api="blas"):
        yield
