"""Render a synthetic actor's performance in a scene: frames plus per-frame ground truth.

Camera: a pinhole at `CAMERA_DISTANCE` cm in front of the head, looking at it; the focal
length is set so the head fills `HEAD_SHARE` of the frame height (times the performance's
scale). The truth landmarks are the projections of the head mesh's first 478 vertices (the
face-mesh landmarks in mediapipe's order), with the same projection the rasteriser draws, so
they lie on the rendered features.

Pose: yaw > 0 turns the actor to their left (nose to the image's right), pitch > 0 looks up,
roll > 0 tilts the head towards the actor's left shoulder (clockwise on screen), about the face
model's pivot. The neck follows the head partly and the shoulders barely, as a body would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from doppel.synth.actor import (CLOTHES, EXPRESSIONS, FACE_PARTS, NECK, Actor, HeadBuilder)
from doppel.synth.face_model import load_face_model
from doppel.synth.performance import Performance
from doppel.synth.raster import Mesh, Rendered, Renderer
from doppel.synth.scene import Scene, degrade_frame, render_background

CAMERA_DISTANCE = 70.0  # cm: a head-and-shoulders shot with mild perspective
HEAD_SHARE = 0.55  # of the frame height: chin-to-crown (~24 cm) at scale 1; shoulders leave the frame
HEAD_HEIGHT = 24.0  # cm
NUM_LANDMARKS = 478
LENS_BLUR = 0.6  # pixels (Gaussian sigma)


@dataclass(frozen=True)
class Clip:
    """Everything that determines a rendered clip: who, doing what, where, at which size."""

    actor: Actor
    performance: Performance
    scene: Scene
    size: tuple[int, int]  # width, height


@dataclass(frozen=True, eq=False)
class SynthFrame:
    """One rendered frame and its truth.

    rgb: uint8 HxWx3. landmarks: float32 (478, 2) pixels (x right, y down; pixel [i, j]'s
    centre is (j, i)), in mediapipe face-mesh order. visible: bool (478,), landmarks not hidden
    behind the head (by depth test against the rendered depth). face_mask: uint8 HxW, 255 on
    the face (skin inside the face oval, lips, eyes, mouth), softened on its outline by the same
    lens blur as the picture. parts: uint8 HxW, the part drawn at each pixel (actor.SKIN, LIPS, IRIS, ...;
    0 for background). pose: yaw, pitch, roll in degrees. expression: EXPRESSIONS values.
    gaze: the eyes' turn in the head, degrees (x > 0 towards the actor's left, y > 0 up).
    """

    index: int
    rgb: npt.NDArray[np.uint8]
    landmarks: npt.NDArray[np.float32]
    visible: npt.NDArray[np.bool_]
    face_mask: npt.NDArray[np.uint8]
    parts: npt.NDArray[np.uint8]
    pose: tuple[float, float, float]
    expression: tuple[float, ...]
    gaze: tuple[float, float]


def render(actor: Actor, performance: Performance, scene: Scene,
           size: int | tuple[int, int]) -> Iterator[SynthFrame]:
    """The frames of `actor` performing `performance` in `scene`, one at a time."""
    width, height = (size, size) if isinstance(size, int) else size
    yield from render_clip(Clip(actor, performance, scene, (width, height)))


def render_swap_truth(source_actor: Actor, target: Clip) -> Iterator[SynthFrame]:
    """The ideal swap: the source actor with exactly the target clip's performance, scene and
    size — pose, expression, light, background and camera noise are the target's."""
    yield from render_clip(replace(target, actor=source_actor))


def render_clip(clip: Clip) -> Iterator[SynthFrame]:
    width, height = clip.size
    background = render_background(clip.scene, width, height)
    builder = HeadBuilder(clip.actor)
    with Renderer(width, height, samples=1) as renderer:
        for index in range(len(clip.performance)):
            values = clip.performance.frame(index)
            drawn, positions = draw_actor(renderer, builder, values, clip.scene, background)
            rgb = degrade_frame(_lens_blur(drawn.rgb), clip.scene, index)
            yield actor_truth(index, rgb, values, positions, drawn.labels, drawn.depth)


def draw_actor(renderer: Renderer, builder: HeadBuilder, values: dict[str, float], scene: Scene,
               background: npt.NDArray[np.uint8]) -> tuple[Rendered, npt.NDArray[np.float32]]:
    """One actor's head drawn for one frame's performance `values` over `background`, and its
    vertices' positions (x, y pixels; z depth in cm)."""
    head = builder.build({name: values[name] for name in EXPRESSIONS},
                         gaze=(values["gaze_x"], values["gaze_y"]))
    positions, normals = _pose_and_project(head.vertices, head.normals, head.labels, values,
                                           load_face_model().pivot.astype(np.float32),
                                           renderer.width, renderer.height)
    drawn = renderer.draw(Mesh(positions, normals, head.colours, head.triangles, head.labels,
                               head.specular, head.uv, head.texture),
                          scene.light, background=background)
    return drawn, positions


def actor_truth(index: int, rgb: npt.NDArray[np.uint8], values: dict[str, float],
                positions: npt.NDArray[np.float32], labels: npt.NDArray[np.uint8],
                depth: npt.NDArray[np.float32]) -> SynthFrame:
    """The truth of one actor in a finished frame `rgb`: labels are its parts where it is
    seen (0 elsewhere) and depth the nearest drawn surface of anything in the frame."""
    landmarks = positions[:NUM_LANDMARKS, :2].copy()
    return SynthFrame(
        index=index, rgb=rgb, landmarks=landmarks,
        visible=_visible(landmarks, positions[:NUM_LANDMARKS, 2], depth),
        face_mask=_lens_blur(_face_mask(labels)), parts=labels,
        pose=(values["yaw"], values["pitch"], values["roll"]),
        expression=tuple(values[name] for name in EXPRESSIONS),
        gaze=(values["gaze_x"], values["gaze_y"]))


def _pose_and_project(vertices: np.ndarray, normals: np.ndarray, labels: np.ndarray,
                      values: dict[str, float], pivot: np.ndarray, width: int, height: int
                      ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Posed, projected positions (x, y pixels; z depth in cm) and camera-space normals in the
    rasteriser's convention (x right, y down, z away from the viewer)."""
    share = np.ones(len(vertices), np.float32)
    share[labels == NECK] = 0.6  # the neck turns part of the way with the head
    share[labels == CLOTHES] = 0.1
    posed = np.empty_like(vertices)
    turned = np.empty_like(normals)
    for weight in np.unique(share):
        rows = share == weight
        rotation = _rotation(weight * values["yaw"], weight * values["pitch"],
                             weight * values["roll"])
        posed[rows] = (vertices[rows] - pivot) @ rotation.T + pivot
        turned[rows] = normals[rows] @ rotation.T
    focal = HEAD_SHARE * height * CAMERA_DISTANCE / HEAD_HEIGHT * values["scale"]
    depth = CAMERA_DISTANCE - posed[:, 2]
    centre_x = (width - 1) / 2 + values["tx"] * width
    centre_y = (height - 1) / 2 + values["ty"] * height
    positions = np.empty_like(posed)
    positions[:, 0] = centre_x + focal * posed[:, 0] / depth
    positions[:, 1] = centre_y - focal * (posed[:, 1] - _FRAME_CENTRE_Y) / depth
    positions[:, 2] = depth
    turned[:, 1:] *= -1  # head frame y up, z towards the camera -> y down, z away
    return positions.astype(np.float32), turned.astype(np.float32)


_FRAME_CENTRE_Y = 0.5  # cm: the frame centres near eye level; the shoulders leave it below


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float32]:
    """Head-frame rotation (x subject's left, y up, z towards the camera) for the pose."""
    y, p, r = np.radians([yaw, -pitch, -roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (about_y @ about_x @ about_z).astype(np.float32)


def _visible(landmarks: np.ndarray, depth: np.ndarray, rendered_depth: np.ndarray
             ) -> npt.NDArray[np.bool_]:
    """A landmark is visible when nothing is drawn in front of it (0.5 cm tolerance)."""
    height, width = rendered_depth.shape
    columns = np.clip(np.rint(landmarks[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.rint(landmarks[:, 1]).astype(int), 0, height - 1)
    inside = (landmarks[:, 0] >= -0.5) & (landmarks[:, 0] < width - 0.5) & \
        (landmarks[:, 1] >= -0.5) & (landmarks[:, 1] < height - 0.5)
    return inside & (depth <= rendered_depth[rows, columns] + 0.5)


def _face_mask(labels: np.ndarray) -> npt.NDArray[np.uint8]:
    """255 where a face part is drawn (before the lens blur softens its outline)."""
    return np.where(np.isin(labels, FACE_PARTS), 255, 0).astype(np.uint8)


def _lens_blur(picture: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A camera lens's slight softness. It also takes the stair-steps off edges drawn with
    one sample per pixel: 4x multisampling would cost 2-3x the rasterising time, and one
    core must render 60 frames a second at 256 px."""
    import cv2

    return cv2.GaussianBlur(picture, (3, 3), LENS_BLUR)
