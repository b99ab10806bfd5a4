"""Several synthetic actors in one frame: they pass in front of each other, leave the frame
and come back. The ruler for face tracking (identity switches) and for picking one person's
faces out of footage with several.

Each actor is drawn on its own with its own performance (tx, ty and scale place it in the
frame; here they may go far beyond `generate_performance`'s small drift), then the pictures
are composited pixel by pixel by depth, so whoever is nearer the camera hides the other. The
finished frame is softened and degraded once, like a single actor's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
from doppel.synth.actor import Actor, HeadBuilder
from doppel.synth.performance import Performance, generate_performance
from doppel.synth.raster import Renderer
from doppel.synth.render import SynthFrame, _lens_blur, actor_truth, draw_actor
from doppel.synth.scene import Scene, degrade_frame, render_background


@dataclass(frozen=True)
class Cast:
    """One actor of a group clip and what they do; `performance` tx, ty (fractions of the
    frame width/height from its centre) and scale (1.0: the head fills HEAD_SHARE of the
    frame height) place them. All performances of a clip have the same length and fps."""

    actor: Actor
    performance: Performance


def render_group(cast: Sequence[Cast], scene: Scene, size: tuple[int, int]
                 ) -> Iterator[tuple[SynthFrame, ...]]:
    """Frames of everyone in `cast` together in `scene` (size: width, height). Each item is one
    frame: a SynthFrame per cast member, in cast order, all sharing the same rgb; each one's
    truth is its own (parts and face_mask where it is seen, landmarks hidden behind anyone are
    not visible)."""
    lengths = {len(member.performance) for member in cast}
    if not cast or len(lengths) != 1:
        raise DoppelError("a group clip needs at least one actor and performances of one "
                          f"length (got lengths {sorted(lengths)})")
    width, height = size
    background = render_background(scene, width, height)
    builders = [HeadBuilder(member.actor) for member in cast]
    with Renderer(width, height, samples=1) as renderer:
        for index in range(lengths.pop()):
            values = [member.performance.frame(index) for member in cast]
            drawn = [draw_actor(renderer, builder, frame_values, scene, background)
                     for builder, frame_values in zip(builders, values, strict=True)]
            # Each actor is drawn at the camera's distance, its scale standing in for how far
            # it is: depth / scale orders them as if the smaller one stood further back.
            scales = [frame_values["scale"] for frame_values in values]
            depths = np.stack([picture.depth / scale
                               for (picture, _), scale in zip(drawn, scales, strict=True)])
            nearest = np.argmin(depths, axis=0)
            anyone = np.isfinite(depths).any(axis=0)
            rgb = background.copy()
            for k, (picture, _) in enumerate(drawn):
                front = anyone & (nearest == k)
                rgb[front] = picture.rgb[front]
            rgb = degrade_frame(_lens_blur(rgb), scene, index)
            depth = depths.min(axis=0)
            yield tuple(
                actor_truth(index, rgb, frame_values, positions * [1, 1, 1 / scale],
                            np.where(anyone & (nearest == k), picture.labels, 0).astype(np.uint8),
                            depth)
                for k, ((picture, positions), frame_values, scale) in enumerate(
                    zip(drawn, values, scales, strict=True)))


def crossing_performances(seconds: float, fps: float, seed: int
                          ) -> tuple[Performance, Performance]:
    """Two actors' performances for a wide frame (16:9): the first walks from the left to the
    right a little further from the camera; the second, nearer, walks from the right to the
    left, passing in front of the first at about a quarter of the clip, then leaves the frame
    to the left, stays out for a fifth of the clip, and comes back to stand left of centre.
    Heads turn, talk and blink as `generate_performance` makes them (yaw within 30 degrees)."""
    count = round(seconds * fps)
    t = np.arange(count) / max(count - 1, 1)
    far = generate_performance(seconds, fps, seed, max_yaw=30.0)
    near = generate_performance(seconds, fps, seed + 1, max_yaw=30.0)
    # Along the clip (0..1): where each stands, as a fraction of the frame width from centre.
    far_x = np.interp(t, [0.0, 0.6, 1.0], [-0.3, 0.3, 0.3])
    near_x = np.interp(t, [0.0, 0.45, 0.55, 0.75, 0.85, 1.0],
                       [0.32, -0.3, -0.9, -0.9, -0.22, -0.22])
    # Heads of 0.55 and 0.68 of the frame height: mediapipe's face mesh (its short-range
    # detector) finds no face under about a third of the frame height.
    return (_placed(far, far_x, 0.02, 1.0), _placed(near, near_x, 0.06, 1.24))


def _placed(performance: Performance, x: npt.NDArray[np.float64], y: float, scale: float
            ) -> Performance:
    """`performance` with its drift kept but moved to `x` (per frame), `y` and `scale`."""
    return replace(performance, tx=(x + performance.tx * 0.5).astype(np.float32),
                   ty=np.full(len(x), y, np.float32) + performance.ty * 0.5,
                   scale=(scale * performance.scale).astype(np.float32))
