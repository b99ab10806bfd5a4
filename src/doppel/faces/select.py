"""Picking one person's faces by a reference photo (`--reference IMG`, for extract and swap).

The reference's identity is dlib's embedding of the one face in the photo; a face (or a track's
mean identity) is that person when its embedding lies within `distance` of it. The default,
0.5, sits between what synthetic actors give for one person (frame to own mean: median 0.24,
90th percentile 0.38) and for two (frame to another's mean: 10th percentile 0.51, see
BENCHMARKS.md "Identities"), and below dlib's own same-person threshold for real people (0.6):
a stricter line, since keeping a stranger's face in a faceset costs more than missing a frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.faces.identity import IdentityEncoder, identity_distance
from doppel.types import Face

REFERENCE_DISTANCE = 0.5


@dataclass(frozen=True, eq=False)
class Reference:
    """One person's identity from a reference photo: embedding float32 (128,), the photo's
    path and the face found in it."""

    embedding: npt.NDArray[np.float32]
    path: Path
    face: Face

    def matches(self, embedding: npt.NDArray[np.floating],
                distance: float = REFERENCE_DISTANCE) -> bool:
        """Whether `embedding` is this person (identity distance at most `distance`)."""
        return identity_distance(embedding, self.embedding) <= distance


def load_reference(path: Path, encoder: IdentityEncoder, detector_name: str = "mediapipe"
                   ) -> Reference:
    """The identity of the one face in the photo at `path`.

    A photo with no face, or with several of similar size, is an error: which person is meant
    would be a guess. A much larger face with small ones behind it is taken as the subject.
    """
    from doppel.faces.detectors import open_detector
    from doppel.media import read_image

    path = Path(path)
    if not path.is_file():
        raise DoppelError(f"reference photo {path} does not exist: give a photo of the person "
                          "whose faces to keep")
    rgb = read_image(path)
    with open_detector(detector_name, max_faces=4, static=True) as detector:
        faces = detector.detect(rgb)
    if not faces:
        raise DoppelError(f"no face found in the reference photo {path}: use a clear, "
                          "front-facing photo of the person")
    if len(faces) > 1 and _area(faces[1]) > 0.5 * _area(faces[0]):
        raise DoppelError(f"the reference photo {path} shows {len(faces)} faces: crop it to "
                          "the one person whose faces to keep")
    embedding = encoder.embed(rgb, faces[0].landmarks)
    if embedding is None:  # only when no place is given; kept for type checkers
        raise DoppelError(f"could not read the face in {path}")
    return Reference(embedding=embedding, path=path, face=faces[0])


def _area(face: Face) -> float:
    x0, y0, x1, y1 = face.box
    return (x1 - x0) * (y1 - y0)


def group_identities(embeddings: npt.ArrayLike, distance: float = REFERENCE_DISTANCE
                     ) -> list[int]:
    """A group number per embedding (float (N, 128)), numbered in order of first appearance:
    the connected groups of 'closer than `distance`' (single linkage, so one person's tracks
    across sources join through any close pair)."""
    points = np.asarray(embeddings, np.float64).reshape(-1, 128)
    squares = (points ** 2).sum(axis=1)
    # |a - b|^2 from dot products: an N x N matrix, not N x N x 128.
    near = squares[:, None] + squares[None] - 2 * points @ points.T < distance ** 2
    parent = list(range(len(points)))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in zip(*np.nonzero(near), strict=True):
        parent[root(int(a))] = root(int(b))
    roots = [root(item) for item in range(len(points))]
    numbers = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [numbers[r] for r in roots]
