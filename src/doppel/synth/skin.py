"""Skin textures for synthetic actors: an RGB albedo in the face mesh's UV space (tone, blotches,
pores, freckles, moles, flush, creases, lips, brows, lashes), made once per actor.

UV space: the base face unrolled around a vertical cylinder behind it (u right = the subject's
left, v down), inset by `UV_MARGIN` so the border is plain skin. A small white patch in the
top-left corner (`PLAIN_UV`) lets other parts of a mesh share the texture yet show their
vertex colour unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from doppel.synth.face_model import load_face_model

if TYPE_CHECKING:
    from doppel.synth.actor import Actor

Colour = tuple[float, float, float]

UV_MARGIN = 0.06
PLAIN_UV = (1 / 128, 1 / 128)  # the centre of the white corner patch (1/64 of the side)
_CYLINDER_Z = -7.0  # cm: the unrolling axis, near the skull's centre
_CYLINDER_RADIUS = 9.0  # cm: arc length per radian, about the cheeks' distance from the axis
_MIN_SIZE = 128


@dataclass(frozen=True)
class SkinParams:
    """What a skin texture depends on. Colours are RGB in [0, 1] as the renderer multiplies
    them. freckles: 0 none to 1 dense. redness: 0 to 1, the flush of cheeks and nose.
    brow_thickness: ~N(0, 1) like the actor's shape parameter. brow_density: 0 to 1."""

    seed: int
    skin: Colour
    lips: Colour
    brows: Colour
    freckles: float = 0.0
    redness: float = 0.5
    brow_thickness: float = 0.0
    brow_density: float = 0.7


def skin_params(actor: Actor) -> SkinParams:
    """The texture parameters of `actor`; appearance not stored on it comes from its seed."""
    rng = np.random.default_rng([actor.seed, 0x5C1])
    lips = actor.lips if actor.lips is not None else default_lip_colour(actor.skin)
    brows = actor.brows if actor.brows is not None else default_brow_colour(actor.hair,
                                                                            actor.skin)
    return SkinParams(seed=actor.seed, skin=actor.skin, lips=lips, brows=brows,
                      freckles=actor.freckles, redness=float(rng.uniform(0.2, 1.0)),
                      brow_thickness=actor.shape.get("brow_thickness", 0.0),
                      brow_density=float(rng.uniform(0.45, 1.0)))


@functools.cache
def face_uv() -> npt.NDArray[np.float32]:
    """float32 (478, 2): each face-mesh vertex's (u, v) in [0, 1], the same for every actor."""
    vertices = load_face_model().vertices.astype(np.float64)
    arc = np.arctan2(vertices[:, 0], vertices[:, 2] - _CYLINDER_Z) * _CYLINDER_RADIUS
    height = vertices[:, 1]
    scale = (1 - 2 * UV_MARGIN) / max(np.ptp(arc), np.ptp(height))
    u = 0.5 + (arc - (arc.max() + arc.min()) / 2) * scale
    v = 0.5 - (height - (height.max() + height.min()) / 2) * scale
    uv = np.column_stack([u, v]).astype(np.float32)
    uv.flags.writeable = False
    return uv


def make_skin_texture(subject: Actor | SkinParams, size: int = 512) -> npt.NDArray[np.uint8]:
    """The albedo of `subject`'s face: RGB uint8 size x size x 3 in `face_uv` space
    (deterministic per seed; about 60 ms at 512)."""
    params = subject if isinstance(subject, SkinParams) else skin_params(subject)
    if size < _MIN_SIZE:
        raise ValueError(f"size must be at least {_MIN_SIZE}, got {size}")
    rng = np.random.default_rng([params.seed, 0x5171])
    points = face_uv().astype(np.float64) * size - 0.5  # texel (x, y) of each landmark
    cm = size * (1 - 2 * UV_MARGIN) / _face_span_cm()  # texels per centimetre
    regions = load_face_model().regions
    skin = np.asarray(params.skin, np.float32)

    shade = (1 + _make_blotches(rng, size) + _make_pores(rng, size)
             - _make_shadows(points, regions, size, cm))[..., None]
    # Each mark darkens the channels by its own share: flush takes green and blue, freckles
    # and moles are brown.
    for mark, share in (
            (_make_flush(points, regions, size, cm, params.redness), (0.0, 0.1, 0.08)),
            (_make_freckles(rng, points, size, cm, params.freckles), (0.22, 0.3, 0.36)),
            (_make_moles(rng, points, regions, size), (0.55, 0.62, 0.66))):
        if mark.any():
            shade = shade * (1 - mark[..., None] * np.float32(share))
    albedo = skin * shade
    albedo = _paint_lips(rng, albedo, points, regions, size, params.lips, params.skin)
    albedo = _soften(albedo, cm)
    albedo = _paint_brows(rng, albedo, points, regions, cm, params)
    albedo = _paint_lashes(rng, albedo, points, regions, cm, params.brows)
    texture = np.clip(albedo * 255 + 0.5, 0, 255).astype(np.uint8)
    texture[:size // 64, :size // 64] = 255
    return texture


def default_lip_colour(skin: Colour) -> Colour:
    """Lips a little darker and redder than the skin, as most people's are."""
    darkness = float(np.clip(1.2 - 1.25 * np.mean(skin), 0, 1))
    share = (1 - darkness) * np.array([0.9, 0.68, 0.68]) + darkness * np.array([0.74, 0.6, 0.68])
    colour = np.asarray(skin) * share + [0.02, 0.0, 0.01]
    return tuple(float(c) for c in np.clip(colour, 0, 1))


def default_brow_colour(hair: Colour, skin: Colour) -> Colour:
    """Brows a little lighter than dark hair, never lighter than the skin's shadow."""
    colour = np.minimum(np.asarray(hair) * 0.9 + 0.02, np.asarray(skin) * 0.45)
    return tuple(float(c) for c in np.clip(colour, 0, 1))


# --- layers -------------------------------------------------------------------------------

@functools.cache
def _face_span_cm() -> float:
    vertices = load_face_model().vertices.astype(np.float64)
    arc = np.arctan2(vertices[:, 0], vertices[:, 2] - _CYLINDER_Z) * _CYLINDER_RADIUS
    return float(max(np.ptp(arc), np.ptp(vertices[:, 1])))


def _make_blotches(rng: np.random.Generator, size: int) -> npt.NDArray[np.float32]:
    """Smooth variation of tone over several scales, about +-4 %."""
    import cv2

    field = np.zeros((size, size), np.float32)
    for cells, amplitude in ((4, 0.018), (9, 0.014), (20, 0.01), (45, 0.008)):
        coarse = rng.standard_normal((cells, cells)).astype(np.float32)
        field += amplitude * cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return field


def _make_pores(rng: np.random.Generator, size: int) -> npt.NDArray[np.float32]:
    """Fine, low-amplitude texture: dark pits more than light bumps."""
    import cv2

    noise = rng.standard_normal((size, size), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
    return 0.035 * np.minimum(noise, 0.3)


def _gaussian_image(size: int, centres: npt.NDArray[np.float64], sigmas: list[float],
                    weights: list[float]) -> npt.NDArray[np.float32]:
    """Sum of isotropic Gaussians (texel units), computed separably per blob."""
    axis = np.arange(size, dtype=np.float32)
    image = np.zeros((size, size), np.float32)
    for (x, y), sigma, weight in zip(centres, sigmas, weights, strict=True):
        gx = np.exp(-((axis - x) / sigma) ** 2 / 2)
        gy = np.exp(-((axis - y) / sigma) ** 2 / 2)
        image += weight * np.outer(gy, gx)
    return image


def _make_flush(points: npt.NDArray[np.float64], regions: dict[str, np.ndarray], size: int,
                cm: float, redness: float) -> npt.NDArray[np.float32]:
    """Where blood shows: cheeks, nose tip, a little on the chin."""
    centres = np.array([points[regions["left_cheek"]].mean(0), points[regions["right_cheek"]]
                        .mean(0), points[4], points[152] * 0.6 + points[17] * 0.4])
    flush = _gaussian_image(size, centres, [1.4 * cm, 1.4 * cm, 0.7 * cm, 0.9 * cm],
                            [1.0, 1.0, 0.8, 0.4])
    return (0.15 + 0.6 * redness) * np.minimum(flush, 1.0)


def _make_shadows(points: npt.NDArray[np.float64], regions: dict[str, np.ndarray], size: int,
                  cm: float) -> npt.NDArray[np.float32]:
    """Darker skin in the nose-lip folds and around the eyes (0 to ~0.2)."""
    import cv2

    folds = np.zeros((size, size), np.float32)
    for ala, corner in ((129, 61), (358, 291)):
        start, end = points[ala], points[corner]
        outward = np.array([np.sign(end[0] - points[0][0]), 0.0])
        middle = (start + end) / 2 + outward * 0.25 * cm
        stop = end + outward * 0.35 * cm + [0, 0.2 * cm]
        curve = np.array([start, middle, stop])
        cv2.polylines(folds, [np.round(curve * 4).astype(np.int32)], False, 1.0,
                      max(1, int(0.12 * cm)), cv2.LINE_AA, shift=2)
    folds = cv2.GaussianBlur(folds, (0, 0), 0.25 * cm) * 0.4
    eyes = _gaussian_image(size, np.array([points[regions["left_eye"]].mean(0),
                                           points[regions["right_eye"]].mean(0)]),
                           [0.9 * cm] * 2, [0.12, 0.12])
    return np.minimum(folds, 0.1) + eyes


def _make_freckles(rng: np.random.Generator, points: npt.NDArray[np.float64], size: int,
                   cm: float, density: float) -> npt.NDArray[np.float32]:
    """Small brown dots scattered over the nose and cheeks, as many as `density` asks."""
    import cv2

    count = int(density * 1200)
    spots = np.zeros((size, size), np.float32)
    if count == 0:
        return spots
    centre = (points[4] + points[6]) / 2
    offsets = rng.normal(size=(count, 2)) * [2.6 * cm, 1.3 * cm]
    xy = np.round(centre + offsets).astype(int)
    keep = (xy >= 0).all(1) & (xy < size).all(1)
    np.add.at(spots, (xy[keep, 1], xy[keep, 0]), rng.uniform(0.3, 1.0, keep.sum()))
    return np.minimum(cv2.GaussianBlur(spots, (0, 0), 0.04 * cm) * 5, 0.8)


def _make_moles(rng: np.random.Generator, points: npt.NDArray[np.float64],
                regions: dict[str, np.ndarray], size: int) -> npt.NDArray[np.float32]:
    """A few moles and blemishes on the skin, away from the eyes, brows and lips."""
    import cv2

    busy = np.concatenate([regions[name] for name in
                           ("lips", "left_eye", "right_eye", "left_brow", "right_brow")])
    candidates = np.setdiff1d(np.arange(468), busy)
    marks = np.zeros((size, size), np.float32)
    for index in rng.choice(candidates, size=rng.integers(0, 5), replace=False):
        x, y = points[index] + rng.normal(size=2) * size / 200
        radius = rng.uniform(0.6, 1.6) * size / 512
        cv2.circle(marks, (int(x * 4), int(y * 4)), max(1, int(radius * 4)),
                   float(rng.uniform(0.5, 1.0)), -1, cv2.LINE_AA, shift=2)
    return cv2.GaussianBlur(marks, (0, 0), 0.7 * size / 512)


def _paint_lips(rng: np.random.Generator, albedo: npt.NDArray[np.float32],
                points: npt.NDArray[np.float64], regions: dict[str, np.ndarray], size: int,
                colour: Colour, colour_of_skin: Colour) -> npt.NDArray[np.float32]:
    """The lip colour inside the outer lip contour, with a soft edge and fine vertical lines."""
    import cv2

    mask = np.zeros((size, size), np.float32)
    outline = np.round(points[regions["lips_outer"]] * 4).astype(np.int32)
    cv2.fillPoly(mask, [outline], 1.0, cv2.LINE_AA, shift=2)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2 * size / 512)
    lines = rng.standard_normal((max(size // 16, 8), size)).astype(np.float32)
    lines = cv2.resize(lines, (size, size), interpolation=cv2.INTER_LINEAR)
    rows, cols = np.nonzero(mask > 1e-3)
    box = np.s_[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    lips = np.asarray(colour, np.float32) * (1 + 0.04 * lines[box])[..., None]
    lips *= albedo[box] / np.asarray(colour_of_skin, np.float32)  # keep the skin's blotches
    inside = mask[box][..., None]
    albedo[box] = albedo[box] * (1 - inside) + lips * inside
    return albedo


def _soften(albedo: npt.NDArray[np.float32], cm: float) -> npt.NDArray[np.float32]:
    """Light scatters under the skin, red farthest: blur red more than green and blue."""
    import cv2

    softened = np.empty_like(albedo)
    for channel, reach in enumerate((0.045, 0.025, 0.02)):
        softened[..., channel] = cv2.GaussianBlur(albedo[..., channel], (0, 0), reach * cm)
    return softened


def _brow_lines(points: npt.NDArray[np.float64], region: np.ndarray
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The brow's lower and upper edges (5 points each, inner end first) in texels."""
    halves = [region[:5], region[5:]]
    edges = []
    for half in halves:
        ordered = half[np.argsort(np.abs(points[half, 0] - points[:, 0].mean()))]
        edges.append(points[ordered])
    # Texel y grows downwards: the upper edge has the smaller mean y.
    lower, upper = sorted(edges, key=lambda edge: -edge[:, 1].mean())
    return lower, upper


def _paint_brows(rng: np.random.Generator, albedo: npt.NDArray[np.float32],
                 points: npt.NDArray[np.float64], regions: dict[str, np.ndarray], cm: float,
                 params: SkinParams) -> npt.NDArray[np.float32]:
    """Many short hair strokes between each brow's edges: upright at the inner end, lying
    outwards along the brow, the tail thinning."""
    import cv2

    size = albedo.shape[0]
    hairs = np.zeros((size, size), np.float32)
    base = np.zeros((size, size), np.float32)
    thickness = 1 + 0.18 * float(np.clip(params.brow_thickness, -2.5, 2.5))
    count = int(420 * params.brow_density * thickness * size / 512) + 80
    for name in ("left_brow", "right_brow"):
        lower, upper = _brow_lines(points, regions[name])
        middle = (lower + upper) / 2
        lower = middle + (lower - middle) * thickness
        upper = middle + (upper - middle) * thickness
        t = rng.uniform(0, 1, count) ** 1.15
        taper = 1 - 0.55 * np.clip((t - 0.55) / 0.45, 0, 1)  # the tail is thinner
        s = 0.5 + (rng.uniform(-0.5, 0.5, count) * taper)
        stations = np.linspace(0, 1, 5)
        low = np.column_stack([np.interp(t, stations, lower[:, k]) for k in range(2)])
        high = np.column_stack([np.interp(t, stations, upper[:, k]) for k in range(2)])
        roots = low + s[:, None] * (high - low)
        along = np.gradient(middle, axis=0)
        along /= np.linalg.norm(along, axis=1, keepdims=True)
        tangent = np.column_stack([np.interp(t, stations, along[:, k]) for k in range(2)])
        lie = np.clip(t / 0.3, 0, 1)[:, None]
        droop = np.column_stack([np.zeros(count), 0.5 * t ** 2 - 0.25])  # tail hairs lie down
        direction = (1 - lie) * [0.0, -1.0] + lie * (tangent + droop)
        direction += rng.normal(size=(count, 2)) * 0.15
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        length = (np.linalg.norm(high - low, axis=1) * rng.uniform(0.35, 0.65, count))[:, None]
        tips = roots + direction * length
        strokes = np.round(np.stack([roots, tips], axis=1) * 4).astype(np.int32)
        cv2.polylines(hairs, list(strokes), False, 1.0, 1, cv2.LINE_AA, shift=2)
        band = np.round(np.vstack([lower, upper[::-1]]) * 4).astype(np.int32)
        cv2.fillPoly(base, [band], 1.0, cv2.LINE_AA, shift=2)
    base = cv2.GaussianBlur(base, (0, 0), 0.1 * cm) * (0.3 + 0.4 * params.brow_density)
    alpha = np.clip(np.maximum(hairs, base), 0, 1)[..., None]
    return albedo + (np.asarray(params.brows, np.float32) - albedo) * alpha


def _paint_lashes(rng: np.random.Generator, albedo: npt.NDArray[np.float32],
                  points: npt.NDArray[np.float64], regions: dict[str, np.ndarray], cm: float,
                  brows: Colour) -> npt.NDArray[np.float32]:
    """A dark lash line along each upper lid with short lashes curling up and outwards, and a
    faint line along each lower lid."""
    import cv2

    size = albedo.shape[0]
    alpha = np.zeros((size, size), np.float32)
    width = max(1, int(round(0.07 * cm)))
    for side in ("left", "right"):
        upper = points[regions[f"{side}_eye_upper"]]
        lower = points[regions[f"{side}_eye_lower"]]
        inner_x = upper[0, 0]
        cv2.polylines(alpha, [np.round(upper * 4).astype(np.int32)], False, 1.0, width,
                      cv2.LINE_AA, shift=2)
        cv2.polylines(alpha, [np.round(lower * 4).astype(np.int32)], False, 0.35, 1,
                      cv2.LINE_AA, shift=2)
        stations = np.linspace(0, 1, len(upper))
        t = np.sort(rng.uniform(0.1, 1.0, 40))
        roots = np.column_stack([np.interp(t, stations, upper[:, k]) for k in range(2)])
        outward = np.sign(upper[-1, 0] - inner_x)
        direction = np.column_stack([outward * (0.2 + 0.8 * t), -np.ones_like(t)])
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        tips = roots + direction * (0.15 + 0.12 * t[:, None]) * cm
        strokes = np.round(np.stack([roots, tips], axis=1) * 4).astype(np.int32)
        cv2.polylines(alpha, list(strokes), False, 0.8, 1, cv2.LINE_AA, shift=2)
    alpha = np.minimum(alpha, 1.0)[..., None]
    lash = np.minimum(np.asarray(brows, np.float32) * 0.5, np.float32(0.06))
    return albedo + (lash - albedo) * alpha
