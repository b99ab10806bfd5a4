"""Swapping: put a prepared source face over a target face in each frame. `SWAPPERS` names the
swappers ("identity", the do-nothing baseline; "classic", the landmark warp of
`doppel.swap.classic`; "model", a model made by `doppel train`); colour transfers and blends
are their own registries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.registry import Registry
from doppel.swap.blend import BLENDS, blend_face
from doppel.swap.classic import swap_face_classic, warp_face
from doppel.swap.colour import COLOUR_TRANSFERS, match_colour
from doppel.types import Face

__all__ = [
    "BLENDS", "COLOUR_TRANSFERS", "SWAPPERS", "ClassicSwapper", "IdentitySwapper", "SourceFace",
    "blend_face", "match_colour", "prepare_source", "swap_face_classic", "warp_face",
]

SWAPPERS: Registry[type] = Registry("swapper")


@dataclass(frozen=True, eq=False)
class SourceFace:
    """The face to put in: one picture (RGB uint8 HxWx3, ideally frontal and neutral) and its
    mediapipe landmarks, float32 (478, 2) pixels."""

    rgb: npt.NDArray[np.uint8]
    landmarks: npt.NDArray[np.float32]


def prepare_source(rgb: npt.NDArray[np.uint8], landmarks: npt.ArrayLike) -> SourceFace:
    """A `SourceFace` from a picture and its face's 478 mediapipe landmarks."""
    points = np.asarray(landmarks, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 HxWx3 source, got {rgb.dtype} {rgb.shape}")
    if points.shape != (478, 2):
        raise DoppelError(f"the source face has {points.shape[0]} landmarks, the swap needs "
                          "mediapipe's 478: detect it with the mediapipe backend")
    return SourceFace(rgb, points)


@SWAPPERS.register("identity")
@dataclass(frozen=True)
class IdentitySwapper:
    """Returns every frame unchanged: the floor every swapper must beat."""

    def swap_frame(self, frame_rgb: npt.NDArray[np.uint8], target_face: Face,
                   source: SourceFace) -> npt.NDArray[np.uint8]:
        return frame_rgb.copy()


@SWAPPERS.register("model")
def _model_swapper(model: object = None, **options: str) -> object:
    """A model trained by `doppel train` (doppel.swap.model; torch loads only when used);
    options: blend, colour, mask (ModelSwapper's)."""
    from doppel.swap.model import ModelSwapper

    return ModelSwapper(model, **options)  # type: ignore[arg-type]


@SWAPPERS.register("classic")
@dataclass(frozen=True)
class ClassicSwapper:
    """FaceForensics++'s "FaceSwap": landmark warp, colour transfer, blend (by their names)."""

    colour: str = "reinhard"
    blend: str = "poisson"
    forehead: bool = False

    def __post_init__(self) -> None:
        COLOUR_TRANSFERS.get(self.colour)  # an unknown name fails here, not frames later
        BLENDS.get(self.blend)

    def swap_frame(self, frame_rgb: npt.NDArray[np.uint8], target_face: Face,
                   source: SourceFace) -> npt.NDArray[np.uint8]:
        if target_face.landmarks.shape != (478, 2):
            raise DoppelError("the classic swap needs mediapipe's 478 landmarks on the target "
                              "face: detect with the mediapipe backend")
        return swap_face_classic(source.rgb, source.landmarks, frame_rgb, target_face.landmarks,
                                 colour=self.colour, blend=self.blend, forehead=self.forehead)
