"""Pipelines of threads: a generator's items produced ahead on a thread of its own."""

from __future__ import annotations

from collections.abc import Iterator
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
