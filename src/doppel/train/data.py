"""A faceset's faces in memory at the training resolution, with the masks training weighs
its losses by: the face hull, and eyes + mouth (where a swap is judged first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.types import Consent

PACKED_HULL = 127  # a packed mask's level on the face outside eyes and mouth


@dataclass(frozen=True, eq=False)
class TrainingFaces:
    """One identity's faces. crops: RGB uint8 N x R x R x 3. masks: uint8 N x R x R, the
    face hull (forehead included) and eyes + mouth in one channel (`pack_masks`), so they go
    through augmentation's geometry with the crop as its fourth channel. coverage: the
    aligner's framing of the crops. consents: the faceset's records."""

    path: Path
    crops: npt.NDArray[np.uint8]
    masks: npt.NDArray[np.uint8]
    coverage: str
    consents: tuple[Consent, ...]
    # The person's dlib embedding (float32 128,): the mean of the faceset's track identities
    # weighted by their frames; None for a faceset without any (made by hand).
    identity: npt.NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.crops)


def load_faces(path: Path, resolution: int, side: str, coverage: str | None = None
               ) -> TrainingFaces:
    """Every face of the faceset at `path` at `resolution` pixels and `coverage` (None: the
    faceset's own; a narrower one is cut from its crops, doppel.faces.align.reframe_matrix).
    side: "source" or "target", for the error messages. A faceset without a consent record,
    or without faces, is refused with what to do."""
    from doppel.faces.align import reframe_matrix, transform_points, warp_crop
    from doppel.faces.masks import component_masks
    from doppel.faceset import open_faceset

    path = Path(path)
    if not (path / "index.sqlite").is_file():
        raise DoppelError(f"the {side} faceset {path} does not exist or is not a faceset: "
                          "make one with doppel extract VIDEO -o FACESET")
    with open_faceset(path, readonly=True) as faceset:
        if not faceset.consents:
            raise DoppelError(
                f"the {side} faceset {path} has no consent record, and training learns that "
                f"person: add one with doppel extract ... -o {path} --consent TEXT|FILE")
        if len(faceset) == 0:
            raise DoppelError(f"the {side} faceset {path} holds no faces: extract some "
                              "into it first")
        coverage = coverage or str(faceset.coverage)
        consents = faceset.consents
        identity = mean_identity(faceset.tracks())
        crops, masks = [], []
        for record in faceset.faces():
            assert record.crop is not None and record.mask is not None
            try:
                to_training = reframe_matrix(record.size, record.coverage, resolution,
                                             coverage)  # type: ignore[arg-type]
            except DoppelError as error:
                raise DoppelError(f"the {side} faceset {path}: {error}") from None
            points = transform_points(transform_points(record.points68, record.matrix),
                                      to_training)
            parts = component_masks(points, (resolution, resolution))
            crops.append(warp_crop(record.crop, to_training, resolution))
            hull = warp_crop(record.mask, to_training, resolution, sharp=False)
            masks.append(pack_masks(hull, parts["eyes"] | parts["mouth"]))
    return TrainingFaces(path, np.stack(crops), np.stack(masks), coverage, consents, identity)


def mean_identity(tracks: list[Any]) -> npt.NDArray[np.float32] | None:
    """The frames-weighted mean of track embeddings (faceset TrackRecords), or None."""
    weights = np.array([max(track.frames, 1) for track in tracks], np.float64)
    if not len(weights):
        return None
    embeddings = np.stack([track.embedding for track in tracks]).astype(np.float64)
    return (weights @ embeddings / weights.sum()).astype(np.float32)


def pack_masks(hull: npt.NDArray[np.uint8], parts: npt.NDArray[np.uint8]
               ) -> npt.NDArray[np.uint8]:
    """Face hull and eyes + mouth (uint8 0/255 each, same shape) as one uint8 channel: 0
    off the face, PACKED_HULL on it, 255 on eyes and mouth (which lie inside the hull).
    Interpolated like any picture, it still decodes (`unpack_masks`) to soft edges of both."""
    hull_share = (hull.astype(np.uint16) * PACKED_HULL) // 255
    parts_share = (parts.astype(np.uint16) * (255 - PACKED_HULL)) // 255
    return np.minimum(hull_share + parts_share, 255).astype(np.uint8)


def unpack_masks(packed: npt.NDArray[np.floating]) -> tuple[npt.NDArray[np.floating],
                                                          npt.NDArray[np.floating]]:
    """(hull, parts) in [0, 1] from packed masks scaled to [0, 1] (any shape, float)."""
    level = packed * 255.0
    hull = np.clip(level / PACKED_HULL, 0.0, 1.0)
    parts = np.clip((level - PACKED_HULL) / (255.0 - PACKED_HULL), 0.0, 1.0)
    return hull, parts

