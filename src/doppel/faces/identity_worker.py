"""dlib's identity embedding in a process of its own, for pipelines with other work to do.

dlib's network keeps the GIL for the whole of an embedding (~80-160 ms here), so in a thread it
stops every other thread of the process: extracting a 720p video, five identity samples per
person froze decoding, detection and the writing of crops for most of a second. In a child
process it runs beside them; `submit` hands a face over and returns at once, `embed` waits.

Only the region around the face travels to the child (a square three face-boxes wide, enough
for dlib's 5-point predictor and its 0.25-padded chip at any roll): the embedding is the same
as on the whole frame (tested), for a few hundred KiB instead of a 2.7 MB 720p frame.
"""

from __future__ import annotations

import contextlib
import json
import struct
import signal
import sys
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.faces.identity import (Box, Embedding, IdentityEncoder, box_from_landmarks,
                                   import_dlib, model_paths)

REGION = 3.0  # side of the region sent to the child, in face-box sides


class IdentityWorker:
    """An IdentityEncoder (see doppel.faces.identity) running in one child process.

    models: as for IdentityEncoder. The child starts at once and loads the models while the
    caller goes on (~0.5 s). Thread-safe: any thread may submit; faces are embedded one at a
    time, in the order submitted. Close it (or use it as a context manager) to stop the child.

    The child is a fresh `python -m doppel.faces.identity_worker` talking framed messages
    (a JSON header, then raw array bytes; no pickle) over its
    stdin and stdout, not a multiprocessing pool: that would import the caller's main script
    again in the child, which breaks scripts without a `__main__` guard.
    """

    def __init__(self, models: Path | None = None) -> None:
        import importlib.util
        import subprocess
        import sys
        import threading

        # Missing pieces are one-line errors here, not a child that dies at start.
        if importlib.util.find_spec("dlib") is None:
            import_dlib()
        model_paths(models)
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__, "" if models is None else str(models)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._waiting: deque[Future[Embedding | None]] = deque()
        self._lock = threading.Lock()
        self._failed: str | None = None
        self._reader = threading.Thread(target=self._read, name="identity-worker",
                                        daemon=True)
        self._reader.start()

    def submit(self, rgb: npt.NDArray[np.uint8],
               where: Box | npt.NDArray[np.floating] | None = None) -> Future[Embedding | None]:
        """Start embedding one face (arguments as IdentityEncoder.embed); the future's result
        is its embedding, float32 (128,), or None where `where` is None and no face is found."""
        region, where = face_region(rgb, where)
        future: Future[Embedding | None] = Future()
        with self._lock:
            if self._failed is not None:
                raise DoppelError(self._failed)
            self._waiting.append(future)
            try:
                assert self._child.stdin is not None
                send(self._child.stdin, {}, {"region": region, "where": _as_array(where)})
            except (BrokenPipeError, OSError):
                self._waiting.pop()
                raise DoppelError(self._stopped()) from None
        return future

    def embed(self, rgb: npt.NDArray[np.uint8],
              where: Box | npt.NDArray[np.floating] | None = None) -> Embedding | None:
        """IdentityEncoder.embed, done in the child; the calling thread waits without the GIL."""
        return self.submit(rgb, where).result()

    def close(self) -> None:
        import subprocess

        with self._lock:
            if self._child.stdin is not None and not self._child.stdin.closed:
                with contextlib.suppress(OSError):
                    self._child.stdin.close()  # the child ends at the end of its input
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._reader.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _read(self) -> None:
        """Hand each answer of the child to the oldest waiting future."""
        assert self._child.stdout is not None
        try:
            while True:
                header, arrays = receive(self._child.stdout)
                kind = header["kind"]
                value = arrays.get("embedding") if kind == "ok" else header["error"]
                with self._lock:
                    future = self._waiting.popleft()
                if kind == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(DoppelError(f"identity embedding failed: {value}"))
        except (EOFError, OSError, ValueError, KeyError):
            pass
        with self._lock:
            self._failed = self._stopped()
            waiting, self._waiting = list(self._waiting), deque()
        for future in waiting:
            future.set_exception(DoppelError(self._failed))

    def _stopped(self) -> str:
        code = self._child.poll()
        return (f"the identity worker process stopped (exit code {code}): run again; if it "
                "keeps stopping, check free memory")


def face_region(rgb: npt.NDArray[np.uint8], where: Box | npt.NDArray[np.floating] | None
                ) -> tuple[npt.NDArray[np.uint8], Any]:
    """The part of `rgb` around the face at `where` (REGION face boxes wide, cut at the
    picture's edges) and `where` moved into it; the whole picture when `where` is None."""
    if where is None:
        return np.ascontiguousarray(rgb), None
    points = np.asarray(where, np.float64)
    box = box_from_landmarks(points) if points.ndim == 2 else points
    side = max(box[2] - box[0], box[3] - box[1])
    reach = (REGION - 1.0) / 2 * side
    height, width = rgb.shape[:2]
    x0, y0 = max(int(box[0] - reach), 0), max(int(box[1] - reach), 0)
    x1, y1 = min(int(np.ceil(box[2] + reach)), width), min(int(np.ceil(box[3] + reach)), height)
    if x1 <= x0 or y1 <= y0:  # the face lies off the picture: let the encoder see it all
        return np.ascontiguousarray(rgb), where
    shifted = points - ((x0, y0) if points.ndim == 2 else (x0, y0, x0, y0))
    return np.ascontiguousarray(rgb[y0:y1, x0:x1]), shifted


def _serve(models: Path | None) -> None:
    """The child: embed each (region, where) read from stdin, answer ("ok", embedding) or
    ("error", text) on stdout, until stdin ends."""
    import os
    import sys

    # Ctrl-C reaches the whole process group; the parent handles it and ends this child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt answers
    encoder = IdentityEncoder(models)
    requests = sys.stdin.buffer
    while True:
        try:
            _, arrays = receive(requests)
        except EOFError:
            return
        region, where = arrays["region"], _from_array(arrays.get("where"))
        try:
            embedding = encoder.embed(region, where)
            send(answers, {"kind": "ok"}, {} if embedding is None else {"embedding": embedding})
        except Exception as error:  # reported to the caller, who raises it
            send(answers, {"kind": "error", "error": f"{type(error).__name__}: {error}"}, {})


_DTYPES = ("uint8", "float32", "float64")  # all a message may carry


def send(stream: Any, header: dict[str, Any], arrays: dict[str, Any]) -> None:
    """One message: a 4-byte length, a JSON header (with each array's dtype and shape),
    then the arrays' bytes in order."""
    arrays = {name: np.ascontiguousarray(value) for name, value in arrays.items()
              if value is not None}
    header = {**header, "arrays": [[name, str(value.dtype), list(value.shape)]
                                   for name, value in arrays.items()]}
    text = json.dumps(header).encode("utf-8")
    stream.write(struct.pack("<I", len(text)) + text)
    for value in arrays.values():
        stream.write(value.tobytes())
    stream.flush()


def receive(stream: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The next message `send` wrote: (header, arrays by name); EOFError at the end."""
    header = json.loads(_read(stream, struct.unpack("<I", _read(stream, 4))[0]))
    arrays = {}
    for name, dtype, shape in header["arrays"]:
        if dtype not in _DTYPES:
            raise ValueError(f"unexpected array type {dtype!r}")
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        arrays[name] = np.frombuffer(_read(stream, size), dtype).reshape(shape).copy()
    return header, arrays


def _read(stream: Any, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return data


def _as_array(where: Any) -> Any:
    return None if where is None else np.asarray(where, np.float64)


def _from_array(where: Any) -> Any:
    """A box travels as 4 floats and comes back as the tuple the encoder takes."""
    if where is None or where.ndim == 2:
        return where
    return tuple(float(value) for value in where)

if __name__ == "__main__":
    _serve(Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None)
