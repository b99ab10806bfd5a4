"""The `model` swapper: a model made by `doppel train` swaps each target face. The face is
aligned as training saw faces, goes through the encoder and the source's decoder, and the
drawn face is put back through the inverse of the alignment, where the model's own mask says,
by a registered blend. The simplest honest conversion; the Generate issue makes it
production-grade (colour matching, temporal smoothing, face selection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.types import Face


class ModelSwapper:
    """model: the model directory (`doppel train -o`). blend: a name in doppel.swap.BLENDS."""

    def __init__(self, model: Path | None = None, blend: str = "alpha") -> None:
        from doppel.swap.blend import BLENDS
        from doppel.train.checkpoint import load_weights, read_meta
        from doppel.train.models import ModelOptions, build_model

        if model is None:
            raise DoppelError("the model swapper needs a trained model: give its folder "
                              "(made by doppel train -o MODEL)")
        BLENDS.get(blend)  # an unknown name fails here, not frames later
        meta = read_meta(Path(model))
        self.network = build_model(ModelOptions(meta["architecture"], meta["preset"]))
        load_weights(Path(model), self.network)
        self.network.eval()
        self.resolution = int(meta["resolution"])
        self.coverage = str(meta["coverage"])
        self.blend = blend

    def swap_frame(self, frame_rgb: npt.NDArray[np.uint8], target_face: Face,
                   source: Any = None) -> npt.NDArray[np.uint8]:
        """`frame_rgb` (RGB uint8 HxWx3) with `target_face` replaced by the model's source
        face in the same pose and expression. `source` is not needed (the model knows the
        source) and is accepted for the swappers' common call."""
        import cv2

        from doppel.faces.align import align_face
        from doppel.swap.blend import blend_face

        aligned = align_face(frame_rgb, target_face.points68, self.resolution, self.coverage)
        face, mask = self.draw(aligned.image)
        height, width = frame_rgb.shape[:2]
        # The alignment's matrix maps frame pixels to crop pixels: sampled "inverse", it
        # carries the crop back onto the frame.
        flags = cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC
        back = cv2.warpAffine(face, aligned.matrix, (width, height), flags=flags,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        weight = cv2.warpAffine(mask, aligned.matrix, (width, height),
                                flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return blend_face(self.blend, back, frame_rgb, weight)

    def draw(self, crop: npt.NDArray[np.uint8]
             ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """The model's source face for an aligned target crop (RGB uint8 R x R x 3): RGB
        uint8 R x R x 3 and its mask, uint8 R x R."""
        import torch

        pixels = torch.from_numpy(crop.transpose(2, 0, 1).astype(np.float32)[None] / 255)
        with torch.no_grad():
            rgb, mask = self.network.swap(pixels)
        face = (rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return face, (mask[0, 0].numpy() * 255).round().astype(np.uint8)
