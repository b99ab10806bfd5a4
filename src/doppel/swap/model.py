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
from doppel.types import Face, PixelBox


MASKS = ("learned", "hull", "both")
# Share of a frame's colour statistics in the track's running average (0.3: about 3 frames'
# memory, steady against blinks, and following light that changes over a second).
COLOUR_SMOOTHING = 0.3
MASK_THRESHOLD = 127  # the model's own mask, the landmarks' face hull, or both
# The margin around the mask's box that is pasted back, as a share of the crop's side.
PASTE_MARGIN = 0.08
# The hull's forehead stays this share of the crop's side below the crop's top: a crop at face
# coverage shows only the forehead's lower part, and a hull cut straight by the crop's edge
# left a straight seam across the forehead; a lower forehead of the same rounded shape does not.
FOREHEAD_INSET = 0.06
NUMPY_PRESETS = ("tiny",)  # swapped on the CPU without torch (see _load_network)


class ModelSwapper:
    """model: the model directory (`doppel train -o`). blend: a name in doppel.swap.BLENDS;
    colour: a name in doppel.swap.COLOUR_TRANSFERS (the drawn face matched to the target's
    face, inside the mask, before blending); mask: one of MASKS; erode: pixels the mask
    shrinks by in the frame; feather: its soft edge in frame pixels (None: in proportion to
    the face); device: where the network runs (a torch device name)."""

    def __init__(self, model: Path | None = None, blend: str = "laplacian",
                 colour: str = "none", mask: str = "both", erode: float = 0.0,
                 feather: float | None = None, device: str = "cpu") -> None:
        from doppel.swap.blend import BLENDS
        from doppel.swap.colour import COLOUR_TRANSFERS
        from doppel.train.modelfile import read_meta

        if model is None:
            raise DoppelError("the model swapper needs a trained model: give its folder "
                              "(made by doppel train -o MODEL)")
        BLENDS.get(blend)  # an unknown name fails here, not frames later
        COLOUR_TRANSFERS.get(colour)
        if mask not in MASKS:
            raise DoppelError(f"unknown mask {mask!r}: choose one of {', '.join(MASKS)}")
        meta = read_meta(Path(model))
        self.meta = meta
        self.device = device
        self.network = _load_network(Path(model), meta, device)
        self.resolution = int(meta["resolution"])
        self.coverage = str(meta["coverage"])
        self.blend, self.colour, self.mask = blend, colour, mask
        self.erode, self.feather = erode, feather  # frame pixels
        # Video: colour statistics are smoothed per track over frames (set by the caller
        # that feeds one video's frames in order).
        self.temporal = False
        self._colours: dict[int, Any] = {}

    def swap_frame(self, frame_rgb: npt.NDArray[np.uint8], target_face: Face,
                   source: Any = None) -> npt.NDArray[np.uint8]:
        """`frame_rgb` (RGB uint8 HxWx3) with `target_face` replaced by the model's source
        face in the same pose and expression. `source` is not needed (the model knows the
        source) and is accepted for the swappers' common call."""
        return self.swap_frames([(frame_rgb, [target_face])])[0][0]

    def swap_frames(self, frames: list[tuple[npt.NDArray[np.uint8], list[Face]]]
                    ) -> list[tuple[npt.NDArray[np.uint8], list[PixelBox]]]:
        """Each frame (RGB uint8 HxWx3) with its listed faces replaced, in order, and the
        boxes (x0, y0, x1, y1) of the pixels that may have changed. Every face of these frames
        goes through the network in one batch (tiny on one CPU thread: ~2.3 ms a face in fours
        against 3.3 alone, measured; a GPU gains more), then each is pasted back, frame after
        frame, so colour smoothing sees the frames in order."""
        from doppel.faces.align import align_face

        aligned = [[align_face(rgb, face.points68, self.resolution, self.coverage)
                    for face in faces] for rgb, faces in frames]
        crops = [each.image for faces in aligned for each in faces]
        drawn = iter(zip(*self.draw_batch(crops), strict=True)) if crops else iter(())
        swapped = []
        for (rgb, faces), crops_of_frame in zip(frames, aligned, strict=True):
            boxes = []
            for face, crop in zip(faces, crops_of_frame, strict=True):
                image, mask = next(drawn)
                rgb, box = self._paste(rgb, crop, image, mask, face.track)
                boxes += [box] if box is not None else []
            swapped.append((rgb, boxes))
        return swapped

    def _steady_reinhard(self, face: npt.NDArray[np.uint8], target: npt.NDArray[np.uint8],
                         mask: npt.NDArray[np.uint8], track: int) -> npt.NDArray[np.uint8]:
        """Reinhard's transfer with both sides' colour statistics averaged over the track's
        recent frames (exponential moving average): per-frame statistics jump with every
        blink and mouth opening, and the face's colour would flicker with them."""
        from doppel.swap.colour import apply_reinhard, lab_stats

        now = (lab_stats(face, mask), lab_stats(target, mask))
        before = self._colours.get(track)
        if before is not None:
            now = tuple((COLOUR_SMOOTHING * new[0] + (1 - COLOUR_SMOOTHING) * old[0],
                         COLOUR_SMOOTHING * new[1] + (1 - COLOUR_SMOOTHING) * old[1])
                        for new, old in zip(now, before, strict=True))  # type: ignore[assignment]
        self._colours[track] = now
        return apply_reinhard(face, mask, now[0], now[1])

    def forget(self) -> None:
        """Drop what was learnt of the tracks so far (a new video or photo follows)."""
        self._colours.clear()

    def paste(self, frame_rgb: npt.NDArray[np.uint8], aligned: Any,
              face: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8],
              track: int | None = None) -> npt.NDArray[np.uint8]:
        """`face` and `mask` (drawn for `aligned`, an AlignedFace of `frame_rgb`) put back
        where the face was: colour matched, warped through the inverse of the alignment and
        blended, in the frame region the crop covers only (a 64-px face needs no full-frame
        warps at 720p). Returns a new frame."""
        return self._paste(frame_rgb, aligned, face, mask, track)[0]

    def _paste(self, frame_rgb: npt.NDArray[np.uint8], aligned: Any,
               face: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8],
               track: int | None) -> tuple[npt.NDArray[np.uint8], PixelBox | None]:
        """`paste`, and the box (x0, y0, x1, y1) it wrote (None: nothing)."""
        import cv2

        from doppel.faces.align import invert_matrix, transform_points
        from doppel.faces.masks import face_hull_mask
        from doppel.swap.blend import blend_face
        from doppel.swap.colour import match_colour

        if self.mask != "learned":
            hull = face_hull_mask(aligned.points68, face.shape[:2], forehead=True,
                                  top=FOREHEAD_INSET * face.shape[0])
            mask = hull if self.mask == "hull" else np.minimum(mask, hull)
        if self.colour == "reinhard" and self.temporal and track is not None \
                and (mask > MASK_THRESHOLD).any():
            face = self._steady_reinhard(face, aligned.image, mask, track)
        elif self.colour != "none":
            face = match_colour(self.colour, face, aligned.image, mask)
        height, width = frame_rgb.shape[:2]
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            return frame_rgb.copy(), None
        # Only the mask's box (and a margin for the blends whose edge spreads) is warped
        # back: the crop's corners are background the mask never uses, about half its area.
        margin = PASTE_MARGIN * face.shape[0]
        low = np.maximum(np.array([cols.min(), rows.min()]) - margin, 0)
        high = np.minimum(np.array([cols.max(), rows.max()]) + margin, face.shape[0] - 1)
        corners = transform_points(np.array([low, [high[0], low[1]], [low[0], high[1]], high],
                                            np.float64), invert_matrix(aligned.matrix))
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 3, (width, height))
        if x1 <= x0 or y1 <= y0:
            return frame_rgb.copy(), None
        # The alignment's matrix maps frame pixels to crop pixels; shifted to the region's
        # corner and sampled "inverse", it carries the crop back onto the region.
        matrix = np.asarray(aligned.matrix, np.float64).copy()
        matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
        size = (int(x1 - x0), int(y1 - y0))
        output = frame_rgb.copy()
        region = output[y0:y1, x0:x1]
        # Outside the crop the face is the frame itself (not black): the Laplacian blend's
        # coarse bands reach a few pixels past the mask and would darken its edge there.
        back = cv2.warpAffine(face, matrix, size, dst=region.copy(),
                              flags=cv2.WARP_INVERSE_MAP | cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_TRANSPARENT)
        weight = cv2.warpAffine(mask, matrix, size,
                                flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if self.erode > 0:
            radius = int(round(self.erode))
            weight = cv2.erode(weight, cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
        output[y0:y1, x0:x1] = blend_face(self.blend, back, np.ascontiguousarray(region),
                                          weight, self.feather)
        return output, (int(x0), int(y0), int(x1), int(y1))

    def draw(self, crop: npt.NDArray[np.uint8]
             ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """The model's source face for an aligned target crop (RGB uint8 R x R x 3): RGB
        uint8 R x R x 3 and its mask, uint8 R x R."""
        faces, masks = self.draw_batch([crop])
        return faces[0], masks[0]

    def draw_batch(self, crops: list[npt.NDArray[np.uint8]]
                   ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """`draw` for several crops at once: N x R x R x 3 faces and N x R x R masks."""
        pixels = np.stack(crops).astype(np.float32) / 255
        if not hasattr(self.network, "parameters"):  # the numpy network
            rgb, mask = self.network.swap(pixels)
        else:
            import torch

            with torch.inference_mode():
                rgb, mask = (out.cpu().numpy() for out in self.network.swap(
                    torch.from_numpy(pixels.transpose(0, 3, 1, 2)).to(self.device)))
            rgb, mask = rgb.transpose(0, 2, 3, 1), mask[:, 0]
        return _to_bytes(rgb), _to_bytes(mask)


def _to_bytes(values: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    return (values * 255).round().astype(np.uint8)


def _load_network(folder: Path, meta: dict[str, Any], device: str) -> Any:
    """tiny on the CPU: the numpy network (no torch to import: doppel.swap.numpy_net says
    why); otherwise torch's. Per face on one thread, numpy against torch: tiny 4.9 / 5.8 ms,
    base 49 / 41, hq 298 / 236 (measured): for the larger presets torch's convolutions win
    back its import within a few hundred frames."""
    if device == "cpu" and meta.get("preset") in NUMPY_PRESETS:
        from doppel.swap.numpy_net import load_numpy_network

        return load_numpy_network(folder, meta)
    from doppel.train.checkpoint import load_weights
    from doppel.train.models import ModelOptions, build_model

    network = build_model(ModelOptions(meta["architecture"], meta["preset"]))
    load_weights(folder, network)
    return network.eval().to(device)

