"""The base 3D face the synthetic actors are built from: mesh, mirror pairs and named regions.

Frame: x to the subject's left (image right when frontal), y up, z towards the camera
(right-handed, as OpenGL's camera space). Units centimetres; origin midway between the centres
of the two eye openings, which are 6.3 cm apart. Vertex i is mediapipe face-mesh landmark i
(468..477 are the irises, in no triangle). "left"/"right" in region names are the subject's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

REGION_PREFIX = "region_"


@dataclass(frozen=True, eq=False)
class FaceModel:
    """A neutral, frontal, symmetric face mesh; arrays are read-only and shared.

    vertices: float32 (478, 3), centimetres. triangles: int32 (T, 3), counter-clockwise seen
    from the camera side (normals point out of the face). mirror: int32 (478,), the vertex on
    the other side of the face (itself on the midline). regions: name -> int32 vertex indices
    (contours in walking order). pivot: float32 (3,), an approximate head rotation centre.
    source: where the geometry came from.
    """

    vertices: npt.NDArray[np.float32]
    triangles: npt.NDArray[np.int32]
    mirror: npt.NDArray[np.int32]
    regions: dict[str, npt.NDArray[np.int32]]
    pivot: npt.NDArray[np.float32]
    source: str


@functools.cache
def load_face_model() -> FaceModel:
    """The packaged base face (regenerate it with tools/make_face_model.py)."""
    path = resources.files("doppel.synth") / "data" / "face_model.npz"
    with resources.as_file(path) as file, np.load(file) as data:
        arrays = {key: data[key] for key in data.files}
    for array in arrays.values():
        array.flags.writeable = False
    regions = {key.removeprefix(REGION_PREFIX): value for key, value in arrays.items()
               if key.startswith(REGION_PREFIX)}
    return FaceModel(vertices=arrays["vertices"], triangles=arrays["triangles"],
                     mirror=arrays["mirror"], regions=regions, pivot=arrays["pivot"],
                     source=str(arrays["source"]))


def vertex_normals(vertices: npt.NDArray[np.floating], triangles: npt.NDArray[np.integer]
                   ) -> npt.NDArray[np.float32]:
    """Unit normals (N, 3) float32, area-weighted over adjacent triangles.

    Vertices in no triangle (the irises) get a zero vector.
    """
    corners = vertices[triangles].astype(np.float64)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros((len(vertices), 3))
    for i in range(3):
        np.add.at(normals, triangles[:, i], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    unit = np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
    return unit.astype(np.float32)
