"""Head pose (yaw, pitch, roll in degrees) from a face's 68 iBUG points.

The points are matched to a mean 3D face (data/mean_face68.npz, made by
tools/make_mean_face.py from the synthetic actors' mean shape) with OpenCV's solvePnP: SQPnP for
the global optimum, then Levenberg-Marquardt to refine it. The camera is a pinhole with no
distortion, principal point at the image centre and a focal length of `FOCAL_SHARE` times the
image's longer side unless told (about a 53-degree field of view across the longer side, a
usual webcam or phone lens); on synthetic actors filmed with a longer lens (1.6 x height)
changing it from 1.0 to 1.6 moves the median error by under 1 degree.

Angles follow synth's convention (doppel.synth.render): in the head frame (x the subject's
left, y up, z towards the camera) the head's rotation is R = Ry(yaw) Rx(-pitch) Rz(-roll), so
yaw > 0 turns the face to its own left (nose to the image's right), pitch > 0 looks up and
roll > 0 tilts the head towards its left shoulder (clockwise on screen). Zero is synth's
frontal face, whose face-oval plane faces the camera (tools/make_face_model.py); the astronaut
photo, looking into the lens, reads as about 20 degrees of pitch down with both backends.

All 68 points are used: without the jaw the inner features are too nearly flat to pin the pitch
(median pitch error 7 degrees instead of 1 on true points of synthetic actors).
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import numpy.typing as npt

FOCAL_SHARE = 1.0  # focal length in pixels per pixel of the image's longer side
# Head frame (x left of the subject, y up, z to the camera) -> OpenCV's object frame
# (x right in the image, y down, z away from the camera) when the face is frontal.
_TO_OPENCV = np.diag([1.0, -1.0, -1.0])

Pose = tuple[float, float, float]


@functools.cache
def load_mean_face() -> npt.NDArray[np.float32]:
    """The mean face's 68 iBUG points, float32 (68, 3), read-only: centimetres, x the
    subject's left, y up, z towards the camera, origin between the eyes."""
    path = resources.files("doppel.faces") / "data" / "mean_face68.npz"
    with resources.as_file(path) as file, np.load(file) as data:
        points = data["points"].astype(np.float32)
    points.flags.writeable = False
    return points


def estimate_pose(points68: npt.NDArray[np.floating], size: tuple[int, int],
                  focal: float | None = None) -> Pose:
    """(yaw, pitch, roll) in degrees of a face from its 68 iBUG points, float (68, 2) pixels
    (pixel [i, j]'s centre is (j, i)), in an image of `size` (width, height) pixels.

    focal: the camera's focal length in pixels; None assumes FOCAL_SHARE x the longer side.
    """
    import cv2

    points = np.asarray(points68, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 iBUG points (68, 2), got shape {points.shape}")
    width, height = size
    focal = FOCAL_SHARE * max(width, height) if focal is None else float(focal)
    camera = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2],
                       [0.0, 0.0, 1.0]])
    model = load_mean_face().astype(np.float64) @ _TO_OPENCV
    found, rotation, translation = cv2.solvePnP(model, points, camera, None,
                                                flags=cv2.SOLVEPNP_SQPNP)
    if found:
        found, rotation, translation = cv2.solvePnP(
            model, points, camera, None, rotation, translation, useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE)
    else:  # degenerate points (SQPnP gives up); the iterative solver still answers
        found, rotation, translation = cv2.solvePnP(model, points, camera, None,
                                                    flags=cv2.SOLVEPNP_ITERATIVE)
    return _angles_from_rotation(cv2.Rodrigues(rotation)[0])


def _angles_from_rotation(rotation: npt.NDArray[np.floating]) -> Pose:
    """(yaw, pitch, roll) in degrees of an OpenCV object-to-camera rotation matrix (3, 3)."""
    head = _TO_OPENCV @ np.asarray(rotation, np.float64) @ _TO_OPENCV
    # head = Ry(yaw) Rx(-pitch) Rz(-roll): its middle row is (cos p' sin r', cos p' cos r',
    # -sin p') with p' = -pitch, r' = -roll, and its corners give the yaw.
    yaw = np.arctan2(head[0, 2], head[2, 2])
    pitch = np.arcsin(np.clip(head[1, 2], -1.0, 1.0))
    roll = -np.arctan2(head[1, 0], head[1, 1])
    return (float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll)))
