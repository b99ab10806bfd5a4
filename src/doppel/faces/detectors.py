"""The face detector backends by name: "mediapipe" (default) and "dlib".

Each backend declares a frozen Options dataclass (its own settings, with help for the CLI) and a
factory that opens it from those options plus the settings every backend shares (max_faces,
static, min_score). The backends' heavy libraries are imported when one is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import numpy as np
import numpy.typing as npt

from doppel.config import check_fields
from doppel.registry import Registry
from doppel.types import Face

DEFAULT_DETECTOR = "mediapipe"


class FaceDetector(Protocol):
    """What every backend opens: detect(rgb) -> faces largest first; close(); a context
    manager that closes on exit."""

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...


@dataclass(frozen=True)
class DetectorBackend:
    """A registered backend: its Options dataclass, a factory
    `open(options, max_faces, static, min_score)`, and one line saying what it is."""

    options: type
    open: Callable[[Any, int, bool, float], FaceDetector]
    summary: str


DETECTORS: Registry[DetectorBackend] = Registry("face detector")


@dataclass(frozen=True)
class MediapipeOptions:
    """Settings of the mediapipe backend (BlazeFace + 478-point face mesh)."""

    quiet: bool = field(default=True, metadata={
        "help": "hide the log lines mediapipe's native code prints while it starts"})


@dataclass(frozen=True)
class DlibOptions:
    """Settings of the dlib backend (HOG or CNN detector + 68-point shape predictor)."""

    detector: Literal["hog", "cnn"] = field(default="hog", metadata={
        "help": "dlib's face detector: hog (fast, near-frontal faces) or cnn (finds more "
                "turned faces, seconds per frame on a CPU)"})
    upsample: int = field(default=1, metadata={
        "help": "times the detector doubles the image first; each finds faces half as big "
                "and costs about 4x the time", "min": 0, "max": 3})

    def __post_init__(self) -> None:
        check_fields(self)


def _open_mediapipe(options: MediapipeOptions, max_faces: int, static: bool,
                    min_score: float) -> FaceDetector:
    from doppel.faces.mediapipe import MediapipeFaces

    return MediapipeFaces(max_faces=max_faces, static=static, min_score=min_score,
                          quiet=options.quiet)


def _open_dlib(options: DlibOptions, max_faces: int, static: bool,
               min_score: float) -> FaceDetector:
    from doppel.faces.dlib_faces import DlibFaces

    # dlib cannot track, so `static` changes nothing: every frame is searched afresh.
    return DlibFaces(max_faces=max_faces, min_score=min_score, detector=options.detector,
                     upsample=options.upsample)


DETECTORS.register("mediapipe")(DetectorBackend(
    MediapipeOptions, _open_mediapipe, "mediapipe: BlazeFace + 478-point face mesh"))
DETECTORS.register("dlib")(DetectorBackend(
    DlibOptions, _open_dlib, "dlib: HOG or CNN detector + 68-point shape predictor"))


def open_detector(name: str | DetectorBackend = DEFAULT_DETECTOR, options: Any = None, *,
                  max_faces: int = 1, static: bool = True,
                  min_score: float = 0.5) -> FaceDetector:
    """Open a face detector backend by name (DETECTORS.names()) or as a DetectorBackend.

    options: the backend's Options dataclass; None takes its defaults. max_faces: most faces
    per frame. static: True treats frames as unrelated photos; False lets a backend that can
    (mediapipe) track faces between consecutive video frames. min_score: detection threshold
    on the backend's [0, 1] score. An unknown name raises DoppelError naming the choices.
    """
    backend = DETECTORS.get(name)
    if options is None:
        options = backend.options()
    elif not isinstance(options, backend.options):
        raise TypeError(f"options for this detector must be {backend.options.__name__}, "
                        f"got {type(options).__name__}")
    return backend.open(options, max_faces, static, min_score)
