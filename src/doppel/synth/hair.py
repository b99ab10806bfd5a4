"""Hair, facial hair and glasses for synthetic actors, as `Part`s in the face model's frame
(cm; x the subject's left, y up, z towards the camera).

`make_hair` grows a shell over the scalp (plus a hanging curtain for long hair); it never
enters the face oval, so the face stays fully visible. `make_beard` gives a `BeardShell`
attached to face vertices, rebuilt each frame so it follows the jaw; `beard_shading` darkens
face vertices for stubble. `make_glasses` builds rims, a bridge and temple arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError
# actor imports this module inside HeadBuilder only, so this import is not circular.
from doppel.synth.actor import (BEARD_STYLES, GLASSES, GLASSES_STYLES, HAIR, HAIR_STYLES,
                                SHOULDER_OFFSET, SHOULDER_RADII, BeardStyle, GlassesStyle,
                                HairStyle, Part, Skull, _concatenate, _ear_centre,
                                _make_ellipsoid, _orient_outward)
from doppel.synth.face_model import load_face_model, vertex_normals

__all__ = ["BEARD_STYLES", "GLASSES", "GLASSES_STYLES", "HAIR", "HAIR_STYLES", "BeardShell",
           "beard_shading", "make_beard", "make_glasses", "make_hair"]

Colour = tuple[float, float, float]
FloatArray = npt.NDArray[np.float64]

_HAIR_SPECULAR = 0.55  # skin is 0.25: hair has a sheen
_GLASSES_SPECULAR = 0.9
_COLUMNS = 48  # shell columns around the head (strands run along them, from the crown down)
_ROWS = 15  # shell rows from the crown to the hair's edge
_CURTAIN_ROWS = 9
_EDGE_SHADE = 0.5  # how much beard colour the skin under a beard's edge takes (see beard_shading)


@dataclass(frozen=True)
class _Style:
    """thickness: cm over the crown; sides: its share over the ears' height. sideburn, over_ear,
    nape: lowest hair height (cm, face frame) in front of, over and behind the ears.
    ear_bulge: extra cm over the ears (medium/long hair covers them). curtain: long hair's
    hanging length below the skull centre (cm), 0 for none. edge: thickness share kept at the
    lower edge (a blunt cut rather than a shaved fade)."""

    thickness: float
    sides: float
    sideburn: float
    over_ear: float
    nape: float
    ear_bulge: float = 0.0
    curtain: float = 0.0
    edge: float = 0.15
    bun: bool = False


_STYLES = {
    "buzz": _Style(0.12, 1.0, -1.4, 1.9, -5.0, edge=0.5),
    "short": _Style(0.85, 0.7, -1.6, 1.9, -5.0),
    "medium": _Style(1.6, 0.85, -2.8, -1.3, -7.5, ear_bulge=0.9, edge=0.45),
    "long": _Style(1.3, 0.9, -3.0, -3.5, -6.5, ear_bulge=0.9, curtain=20.0, edge=0.5),
    "bun": _Style(0.45, 0.8, -1.6, 1.9, -5.5, bun=True),
}


# --- hair ----------------------------------------------------------------------------------

def make_hair(skull: Skull, face: npt.ArrayLike, style: HairStyle, colour: Colour, seed: int
              ) -> Part | None:
    """The hair of `style` over `skull` (the actor's, from `HeadBuilder.skull`), whose front
    edge is `face`'s oval (float (478, 3), the actor's neutral face); None for "bald".

    A shell over the scalp (offset along its normals by a thickness that fades at the hairline),
    with strand-like clumps of colour and thickness running from the crown down; "long" adds a
    curtain hanging behind the head and beside the neck. Static: the hair does not follow the
    jaw (it stays above and behind the jaw's pivot). Label HAIR. Deterministic for `seed`.
    """
    if style not in HAIR_STYLES:
        raise DoppelError(f"unknown hair style {style!r}; use one of {', '.join(HAIR_STYLES)}")
    if style == "bald":
        return None
    spec = _STYLES[style]
    face = np.asarray(face, dtype=np.float64)
    rng = np.random.default_rng([seed, 0x4A12])
    head_vertices = np.vstack([face, skull.vertices])
    # Hair rays only meet the scalp and the top of the face: the rest would only cost time.
    face_triangles = load_face_model().triangles
    face_triangles = face_triangles[face[face_triangles, 1].max(axis=1) > -1.0]
    head_triangles = np.vstack([face_triangles, skull.triangles])
    azimuth = 2 * np.pi * np.arange(_COLUMNS) / _COLUMNS
    lowest = _hair_edge_heights(face, skull.centre[2], np.degrees(azimuth), spec)
    scalp, rows = _scalp_grid(skull.centre, azimuth, lowest, head_vertices, head_triangles)
    clumps = _column_noise(rng, _COLUMNS, 2, 0.5)
    shell = _grow_shell(scalp, rows, np.degrees(azimuth), skull.centre, _ear_centre(skull, 1.0),
                        spec, clumps, rng)
    parts = [_paint_hair(shell, _grid_triangles(_COLUMNS, _ROWS), skull.centre, colour, clumps,
                         rows, rng)]
    if spec.curtain > 0:
        parts.append(_make_curtain(shell, np.degrees(azimuth), skull, spec, colour, rng))
    if spec.bun:
        parts.append(_make_bun(shell, skull.centre, colour, rng))
    return _concatenate(parts)


def _hair_edge_heights(face: FloatArray, axis_z: float, azimuth: FloatArray, spec: _Style
                       ) -> FloatArray:
    """float (C,): the lowest hair height (y) of each column (azimuth in degrees about the
    skull's vertical axis at depth `axis_z`, 0 = front, 90 = the subject's left). In front of the ears it stays above the face oval's upper edge
    (a little above the forehead, receding at the temples), so hair never enters the face."""
    a = np.abs((azimuth + 180) % 360 - 180)
    behind = np.interp(a, [68, 73, 100, 125, 180],
                       [spec.sideburn, spec.over_ear, spec.over_ear,
                        0.5 * (spec.over_ear + spec.nape) - 1.0, spec.nape])
    oval_a, oval_y = _oval_profile(face, axis_z)
    recession = 0.35 + 0.9 * np.exp(-((a - 30) / 11) ** 2)
    # Also ~1 cm behind the oval's side, where it runs steeply down the temple.
    above_face = np.interp(np.maximum(a - 7, 0), oval_a, oval_y, right=-np.inf) + recession
    return np.maximum(np.where(a < 73, np.maximum(behind, spec.sideburn), behind), above_face)


def _oval_profile(face: FloatArray, axis_z: float) -> tuple[FloatArray, FloatArray]:
    """The face oval's upper half as height by azimuth (degrees from the front, seen from the
    skull's vertical axis), azimuth increasing; below its widest point it is unused."""
    oval = face[load_face_model().regions["face_oval"]]
    upper = oval[(oval[:, 0] >= 0) & (oval[:, 1] > -3.0)]
    a = np.degrees(np.arctan2(upper[:, 0], upper[:, 2] - axis_z))
    order = np.argsort(a)
    return a[order], np.minimum.accumulate(upper[order, 1])


def _scalp_grid(centre: FloatArray, azimuth: FloatArray, lowest: FloatArray,
                vertices: FloatArray, triangles: npt.NDArray[np.int64]
                ) -> tuple[FloatArray, FloatArray]:
    """The scalp under the hair: float (R, C, 3) points where rays from the skull centre meet
    the head, rows from the crown (row 0, all columns the same point) down to each column's
    lowest height; and float (R,) each row's position from 0 (crown) to 1 (edge)."""
    elevations = np.radians(np.linspace(-75, 88, 30))
    directions = _directions(azimuth[None, :], elevations[:, None])
    probe = _cast_rays(centre, directions.reshape(-1, 3), vertices, triangles)
    probe = probe.reshape(len(elevations), len(azimuth), 3)
    heights = np.maximum.accumulate(probe[..., 1], axis=0)
    reach = np.linalg.norm(probe - centre, axis=-1)
    edge = np.array([np.interp(lowest[c], heights[:, c], elevations)
                     for c in range(len(azimuth))])
    # Rows crowd towards the edge, where the thickness fades.
    rows = 1 - (1 - np.arange(_ROWS) / (_ROWS - 1)) ** 1.5
    crown = np.linalg.norm(_cast_rays(centre, np.array([[0.0, 1.0, 0.0]]), vertices,
                                      triangles)[0] - centre)
    row_elevation = np.pi / 2 + rows[:, None] * (edge[None, :] - np.pi / 2)
    # The scalp between probes: its distance from the centre varies smoothly with elevation.
    distance = np.column_stack([
        np.interp(row_elevation[:, c], np.r_[elevations, np.pi / 2], np.r_[reach[:, c], crown])
        for c in range(len(azimuth))])
    directions = _directions(np.broadcast_to(azimuth, row_elevation.shape), row_elevation)
    return centre + directions * distance[..., None], rows


def _directions(azimuth: FloatArray, elevation: FloatArray) -> FloatArray:
    """Unit vectors (..., 3): azimuth from +z towards +x, elevation up from the horizontal."""
    return np.stack(np.broadcast_arrays(np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                                        np.cos(elevation) * np.cos(azimuth)), axis=-1)


def _cast_rays(origin: FloatArray, directions: FloatArray, vertices: FloatArray,
               triangles: npt.NDArray[np.int64], candidates: int = 24) -> FloatArray:
    """float (N, 3): where each ray from `origin` leaves the (star-shaped) mesh, testing only the
    triangles whose centres lie nearest its direction (Moller-Trumbore)."""
    corners = vertices[triangles]
    towards = corners.mean(axis=1) - origin
    towards /= np.linalg.norm(towards, axis=1, keepdims=True)
    closeness = directions.astype(np.float32) @ towards.T.astype(np.float32)
    nearest = np.argpartition(-closeness, candidates, axis=1)[:, :candidates]
    v0, v1, v2 = (corners[nearest, i] for i in range(3))  # (N, K, 3)
    d = directions[:, None, :]
    e1, e2 = v1 - v0, v2 - v0
    p = np.cross(d, e2)
    det = np.einsum("nkj,nkj->nk", e1, p)
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    s = origin - v0
    u = np.einsum("nkj,nkj->nk", s, p) / det
    q = np.cross(s, e1)
    v = np.einsum("nkj,nkj->nk", d, q) / det
    t = np.einsum("nkj,nkj->nk", e2, q) / det
    hit = (u >= -1e-6) & (v >= -1e-6) & (u + v <= 1 + 1e-6) & (t > 0)
    distance = np.where(hit, t, -np.inf).max(axis=1)
    fallback = np.linalg.norm(corners.mean(axis=1)[nearest[:, 0]] - origin, axis=1)
    distance = np.where(np.isfinite(distance), distance, fallback)
    return origin + directions * distance[:, None]


def _column_noise(rng: np.random.Generator, count: int, smooth: int, spread: float
                  ) -> FloatArray:
    """float (count,) around 0 with unit-ish spread, correlated over `smooth` neighbours around
    the circle: the strand clumps."""
    values = rng.normal(size=count)
    for _ in range(smooth):
        values = spread * values + (1 - spread) * 0.5 * (np.roll(values, 1) + np.roll(values, -1))
    return values / max(values.std(), 1e-9)


def _grow_shell(scalp: FloatArray, rows: FloatArray, azimuth: FloatArray, centre: FloatArray,
                ear: FloatArray, spec: _Style, clumps: FloatArray, rng: np.random.Generator
                ) -> FloatArray:
    """float (R, C, 3): the hair's outer surface, the scalp pushed out along its normals (and
    over the ear whose centre is `ear`, the subject's left one, where the style covers ears)."""
    ear_azimuth = np.degrees(np.arctan2(ear[0], ear[2] - centre[2]))
    flat = scalp.reshape(-1, 3)
    triangles = _grid_triangles(scalp.shape[1], scalp.shape[0])
    normals = vertex_normals(flat, triangles).astype(np.float64)
    normals = np.where(np.einsum("ij,ij->i", normals, flat - centre)[:, None] < 0, -normals,
                       normals)
    height = (flat[:, 1] - centre[1]) / 8.0
    a = np.abs((np.broadcast_to(azimuth, scalp.shape[:2]).ravel() + 180) % 360 - 180)
    thickness = spec.thickness * (spec.sides + (1 - spec.sides) * np.clip(height, 0, 1))
    thickness += spec.ear_bulge * np.exp(-((flat[:, 1] - ear[1] - 0.8) / 2.2) ** 2
                                          - ((a - ear_azimuth - 5) / 12) ** 2)
    edge = np.broadcast_to(rows[:, None], scalp.shape[:2]).ravel()
    blunt = spec.edge + (1 - spec.edge) * _smoothstep((1 - edge) / 0.12)
    fade = _smoothstep((1 - edge) / 0.3) ** 1.5  # a long ramp: no ledge over the face
    # Beside the face the hair fades out fully (a thick edge would overhang it when the head
    # turns); behind the ears it is cut bluntly.
    front = np.exp(-(a / 72) ** 8)
    fade = fade * front + blunt * (1 - front)
    bumps = 1 + 0.12 * np.tile(clumps, scalp.shape[0]) + rng.normal(0, 0.04, len(flat))
    offset = 0.04 + thickness * fade * np.clip(bumps, 0.7, 1.3)
    return (flat + normals * offset[:, None]).reshape(scalp.shape)


def _smoothstep(t: FloatArray) -> FloatArray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _grid_triangles(columns: int, rows: int) -> npt.NDArray[np.int64]:
    """Triangles of a (rows, columns) grid closed around its columns; row 0 is one point (all its
    columns coincide), so only a fan is made there."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(columns), indexing="ij")
    a = r * columns + c
    b = r * columns + (c + 1) % columns
    lower = np.stack([a, a + columns, b + columns], -1).reshape(-1, 3)
    upper = np.stack([a, b + columns, b], -1)[1:].reshape(-1, 3)
    return np.concatenate([lower, upper])


def _paint_hair(shell: FloatArray, triangles: npt.NDArray[np.int64], centre: FloatArray,
                colour: Colour, clumps: FloatArray, rows: FloatArray,
                rng: np.random.Generator) -> Part:
    """The shell as a Part: colour streaked along the columns (strands), a little darker at the
    roots of the edge and lighter on top."""
    vertices = shell.reshape(-1, 3)
    triangles = _orient_outward(vertices, triangles, centre)
    normals = vertex_normals(vertices, triangles).astype(np.float64)
    count_rows, count_columns = shell.shape[:2]
    streaks = 1 + 0.13 * np.tile(clumps, count_rows) + 0.07 * np.tile(
        _column_noise(rng, count_columns, 0, 1.0), count_rows)
    along = 1 + 0.05 * np.sin(np.repeat(rows, count_columns) * 9 + rng.uniform(0, 6.3))
    roots = 1 - 0.15 * np.repeat(rows, count_columns) ** 4
    shade = (streaks * along * roots)[:, None]
    colours = np.clip(np.array(colour) * shade + 0.02 * (shade - 1), 0, 1)
    return Part(vertices, normals, colours, triangles, np.full(len(vertices), HAIR, np.uint8),
                np.full(len(vertices), _HAIR_SPECULAR))


def _make_curtain(shell: FloatArray, azimuth: FloatArray, skull: Skull, spec: _Style,
                  colour: Colour, rng: np.random.Generator) -> Part:
    """Long hair hanging from the shell's sides and back: a sheet that drops from just inside
    the shell, clears it, the ears and the neck, flares a little and ends above the shoulders'
    surface (so it rests on them at the sides) or below their level at the back."""
    a = (azimuth + 180) % 360 - 180
    keep = np.flatnonzero(np.abs(a) >= 70)
    keep = keep[np.argsort(np.where(a[keep] < 0, a[keep] + 360, a[keep]))]  # 70 ... 290
    centre = skull.centre
    start_row = int(np.searchsorted(-shell[:, keep[0], 1], -(centre[1] + 2.5)))
    top = shell[start_row, keep]
    radial = top[:, [0, 2]] - centre[[0, 2]]
    radius = np.linalg.norm(radial, axis=1)
    unit = radial / radius[:, None]
    below = shell[start_row:, keep][:, :, [0, 2]] - centre[[0, 2]]
    clear = np.maximum(np.einsum("rcj,cj->rc", below, unit).max(axis=0), radius) + 0.15
    depth = np.linspace(0, 1, _CURTAIN_ROWS)
    drop = spec.curtain * (1 + 0.08 * _column_noise(rng, len(keep), 1, 0.5))
    bottom = centre[1] - drop
    ys = top[None, :, 1] + depth[:, None] ** 1.2 * (bottom - top[:, 1])[None, :]
    # Approach the shell's outside over the first rows, then flare as a sheet falling freely.
    ease = _smoothstep(depth / 0.25)[:, None]
    reach = radius[None, :] + (clear - radius)[None, :] * ease + 1.2 * depth[:, None] ** 1.5
    xz = centre[[0, 2]] + unit[None, :, :] * reach[:, :, None]
    vertices = np.stack([xz[..., 0], ys, xz[..., 1]], axis=-1)
    vertices[..., 1] = np.maximum(vertices[..., 1], _shoulder_height(vertices, centre) + 0.3)
    vertices[0] = top - 0.25 * np.column_stack([unit[:, 0], np.zeros(len(keep)), unit[:, 1]])
    flat = vertices.reshape(-1, 3)
    columns = len(keep)
    r, c = np.meshgrid(np.arange(_CURTAIN_ROWS - 1), np.arange(columns - 1), indexing="ij")
    i = r * columns + c
    triangles = np.concatenate([np.stack([i, i + columns, i + 1], -1).reshape(-1, 3),
                                np.stack([i + 1, i + columns, i + columns + 1], -1)
                                .reshape(-1, 3)])
    axis = np.array([centre[0], 0.0, centre[2]])
    triangles = _orient_outward(flat, triangles, axis, axis_mask=[1, 0, 1])
    normals = vertex_normals(flat, triangles).astype(np.float64)
    clumps = _column_noise(rng, columns, 1, 0.5)
    streaks = 1 + 0.15 * np.tile(clumps, _CURTAIN_ROWS)
    tips = 1 + 0.1 * np.repeat(depth, columns)  # sun-lightened ends
    colours = np.clip(np.array(colour) * (streaks * tips)[:, None], 0, 1)
    return Part(flat, normals, colours, triangles, np.full(len(flat), HAIR, np.uint8),
                np.full(len(flat), _HAIR_SPECULAR))


def _shoulder_height(points: FloatArray, skull_centre: FloatArray) -> FloatArray:
    """The top of the shoulders' ellipsoid under each point (-inf beside it)."""
    centre = np.array([0.0, 0.0, skull_centre[2]]) + SHOULDER_OFFSET
    inside = 1 - ((points[..., 0] - centre[0]) / SHOULDER_RADII[0]) ** 2 \
        - ((points[..., 2] - centre[2]) / SHOULDER_RADII[2]) ** 2
    return np.where(inside > 0, centre[1] + SHOULDER_RADII[1] * np.sqrt(np.maximum(inside, 0)),
                    -np.inf)


def _make_bun(shell: FloatArray, centre: FloatArray, colour: Colour,
              rng: np.random.Generator) -> Part:
    """A knot of hair on the back of the head, sunk a little into the shell."""
    direction = _directions(np.pi, np.radians(30.0))
    points = shell.reshape(-1, 3)
    anchor = points[np.argmax((points - centre) @ direction)]
    bun = _make_ellipsoid(anchor + 1.6 * direction, np.array([2.8, 2.5, 2.2]), 7, 12,
                          np.array(colour), HAIR, _HAIR_SPECULAR)
    shade = 1 + 0.12 * rng.normal(size=(len(bun.vertices), 1))
    return Part(bun.vertices, bun.normals, np.clip(bun.colours * shade, 0, 1), bun.triangles,
                bun.labels, bun.specular)


# --- facial hair ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BeardShell:
    """Facial hair attached to the face: vertex k lies at the blend `weights[k]` of face vertices
    `anchors[k]` (barycentric, int (K, 3) and float (K, 3)), pushed `thickness[k]` cm out along
    the blended face normal; so `build` on each frame's deformed face makes it follow the jaw
    and lips. triangles index the beard's vertices; colours float (K, 3)."""

    anchors: npt.NDArray[np.int64]
    weights: FloatArray
    thickness: FloatArray
    triangles: npt.NDArray[np.int64]
    colours: FloatArray

    def build(self, face: npt.ArrayLike, normals: npt.ArrayLike | None = None) -> Part:
        """The beard on `face` (float (478, 3), this frame's face; normals: its outward unit
        vertex normals if already computed, e.g. the head mesh's first 478)."""
        face = np.asarray(face, dtype=np.float64)
        if normals is None:
            normals = vertex_normals(face, load_face_model().triangles)
        normals = np.einsum("kj,kjd->kd", self.weights,
                            np.asarray(normals, dtype=np.float64)[self.anchors])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        vertices = np.einsum("kj,kjd->kd", self.weights, face[self.anchors]) \
            + normals * self.thickness[:, None]
        count = len(vertices)
        return Part(vertices, vertex_normals(vertices, self.triangles).astype(np.float64),
                    self.colours, self.triangles, np.full(count, HAIR, np.uint8),
                    np.full(count, 0.3))


def make_beard(face: npt.ArrayLike, regions: dict[str, npt.NDArray[np.int32]],
               style: BeardStyle, colour: Colour, seed: int, skin: Colour | None = None
               ) -> BeardShell | None:
    """A moustache or full beard as a shell 0.2-0.5 cm over `face` (float (478, 3), neutral),
    leaving the lips and mouth opening clear; None for "none" and "stubble" (stubble is colour:
    see `beard_shading`). regions: the face model's. Deterministic for `seed`. With `skin`,
    the shell's thin edge fades towards the beard-shaded skin beneath it, so the mesh's
    triangle edges do not show as a jagged line."""
    if style not in BEARD_STYLES:
        raise DoppelError(f"unknown beard style {style!r}; use one of {', '.join(BEARD_STYLES)}")
    if style in ("none", "stubble"):
        return None
    face = np.asarray(face, dtype=np.float64)
    rng = np.random.default_rng([seed, 0xBEA2D])
    shells = [_moustache_grid(face, regions, rng)]
    if style == "full":
        shells.append(_beard_on_mesh(face, regions, rng))
    offsets = np.cumsum([0] + [len(shell[0]) for shell in shells])
    anchors, weights, thickness, triangles = (
        np.concatenate([shell[i] + (offsets[n] if i == 3 else 0) for n, shell in enumerate(shells)])
        for i in range(4))
    x = np.einsum("kj,kj->k", weights, face[anchors, 0])
    streaks = 1 + 0.15 * np.sin(x * 7 + rng.uniform(0, 6.3)) + rng.normal(0, 0.06, len(x))
    colours = np.clip(np.array(colour) * streaks[:, None], 0, 1)
    if skin is not None:
        under = np.array(skin) + _EDGE_SHADE * (np.array(colour) - np.array(skin))
        solid = np.clip((thickness - 0.05) / 0.15, 0.0, 1.0)[:, None]
        colours = under + solid * (colours - under)
    return BeardShell(anchors, weights, thickness, triangles, colours)


def _beard_on_mesh(face: FloatArray, regions: dict[str, npt.NDArray[np.int32]],
                   rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], ...]:
    """A full beard over the face mesh's own triangles on the jaw, chin and lower cheeks:
    anchors, weights, thickness, triangles (as `BeardShell`'s)."""
    inside = _beard_region(face, regions, "full") > 0.5
    # A triangle with two beard corners joins in, its third corner (just outside) taking the
    # thinnest edge, unless it lies on the lips.
    lips = np.zeros(len(face), dtype=bool)
    lips[regions["lips"]] = True
    all_triangles = load_face_model().triangles
    triangles = all_triangles[(inside[all_triangles].sum(axis=1) >= 2)
                              & ~lips[all_triangles].any(axis=1)]
    anchors = np.unique(triangles)
    remap = np.full(len(face), -1)
    remap[anchors] = np.arange(len(anchors))
    # The edge thins to nothing: a vertex's thickness follows how many neighbours are beard.
    ring = np.zeros(len(face))
    degree = np.zeros(len(face))
    for i in range(3):
        for j in range(3):
            if i != j:
                np.add.at(ring, all_triangles[:, i], inside[all_triangles[:, j]])
                np.add.at(degree, all_triangles[:, i], 1)
    fullness = (ring / np.maximum(degree, 1))[anchors] ** 2
    chin = np.exp(-((face[anchors, 1] - face[152, 1]) / 2.5) ** 2)
    thickness = 0.04 + (0.26 + 0.18 * chin) * fullness * rng.uniform(0.85, 1.1, len(anchors))
    weights = np.zeros((len(anchors), 3))
    weights[:, 0] = 1.0
    return (np.column_stack([anchors, anchors, anchors]), weights, thickness,
            remap[triangles])


def _moustache_grid(face: FloatArray, regions: dict[str, npt.NDArray[np.int32]],
                    rng: np.random.Generator, columns: int = 13, rows: int = 5
                    ) -> tuple[npt.NDArray[np.int64], ...]:
    """A moustache over the upper lip, finer than the face mesh there (which has few vertices):
    a grid from just above the upper lip's outline to just below the nose, drooping a little at
    the mouth corners, each point tied to the face triangle under it."""
    lips = face[regions["lips_outer"]]
    upper = lips[lips[:, 1] >= np.interp(lips[:, 0], [lips[:, 0].min(), lips[:, 0].max()],
                                         lips[[lips[:, 0].argmin(), lips[:, 0].argmax()], 1])]
    order = np.argsort(upper[:, 0])
    corner = np.abs(lips[:, 0]).max()
    nose_base = face[regions["nose"], 1].min()
    xs = np.linspace(-corner - 0.35, corner + 0.35, columns)
    lip_line = np.interp(xs, upper[order, 0], upper[order, 1]) + 0.1
    lip_line = np.where(np.abs(xs) > corner, lip_line + 0.15, lip_line)
    top = nose_base - 0.2 - 0.5 * (np.abs(xs) / corner) ** 2
    t = np.linspace(0, 1, rows)[:, None]
    points = np.stack(np.broadcast_arrays(xs[None, :], lip_line + t * (top - lip_line)), -1)
    anchors, weights = _locate_on_face(face, points.reshape(-1, 2))
    # clipped: at the ends sin and cos round to -1e-17, whose square root is NaN
    middle = np.sqrt(np.clip(np.sin(np.pi * t), 0, None)
                     * np.clip(np.cos(0.5 * np.pi * xs / (corner + 0.35)), 0, None))
    thickness = (0.05 + 0.3 * middle).ravel() * rng.uniform(0.85, 1.15, rows * columns)
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(columns - 1), indexing="ij")
    i = r * columns + c
    triangles = np.concatenate([np.stack([i, i + 1, i + columns], -1).reshape(-1, 3),
                                np.stack([i + 1, i + columns + 1, i + columns], -1)
                                .reshape(-1, 3)])
    return anchors, weights, thickness, triangles


def _locate_on_face(face: FloatArray, points: FloatArray
                    ) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """For 2D points (x, y) seen from the front: the camera-facing face triangle under each and
    the point's barycentric weights in it (int (N, 3), float (N, 3))."""
    triangles = load_face_model().triangles
    corners = face[triangles]
    facing = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, 2] > 0
    triangles, corners = triangles[facing], corners[facing][:, :, :2]
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    v0, v1 = b - a, c - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    offset = points[:, None, :] - a[None]
    u = (offset[..., 0] * v1[:, 1] - offset[..., 1] * v1[:, 0]) / det
    v = (v0[:, 0] * offset[..., 1] - v0[:, 1] * offset[..., 0]) / det
    outside = np.maximum.reduce([-u, -v, u + v - 1])  # 0 or less inside
    best = outside.argmin(axis=1)
    rows = np.arange(len(points))
    u, v = np.clip(u[rows, best], 0, 1), np.clip(v[rows, best], 0, 1)
    total = np.maximum(u + v, 1)
    u, v = u / total, v / total
    return triangles[best].astype(np.int64), np.column_stack([1 - u - v, u, v])


def beard_shading(face: npt.ArrayLike, regions: dict[str, npt.NDArray[np.int32]],
                  style: BeardStyle) -> FloatArray:
    """float (478,) in [0, 1]: how much of the beard colour to mix into each face vertex's skin
    colour, `colours = colours * (1 - w) + w * beard_colour`: stubble's shadow, and under a
    moustache or beard a darker skin that hides any gap at its edge. All 0 for "none"."""
    if style not in BEARD_STYLES:
        raise DoppelError(f"unknown beard style {style!r}; use one of {', '.join(BEARD_STYLES)}")
    face = np.asarray(face, dtype=np.float64)
    if style == "none":
        return np.zeros(len(face))
    region = _beard_region(face, regions, "full" if style == "stubble" else style)
    # Spread a mesh ring further so a shell's jagged triangle edge fades into shadow.
    model = load_face_model()
    spread = region.copy()
    for i in range(3):
        for j in range(3):
            if i != j:
                np.maximum.at(spread, model.triangles[:, i], 0.6 * region[model.triangles[:, j]])
    lips = np.zeros(len(face), dtype=bool)
    lips[regions["lips"]] = True
    return np.where(lips, 0.0, (0.35 if style == "stubble" else 0.6) * spread)


def _beard_region(face: FloatArray, regions: dict[str, npt.NDArray[np.int32]], style: str
                  ) -> FloatArray:
    """float (478,) in [0, 1]: where a moustache or full beard grows on the face, soft-edged;
    never on the lips (0.1-0.2 cm clear of their outline) or above the nose's base."""
    x, y, _ = face.T
    lips = face[regions["lips_outer"]]
    nose_base = face[regions["nose"], 1].min()
    lip_top = lips[:, 1].max()
    corner = np.abs(lips[:, 0]).max()
    clear = _polygon_distance(face[:, :2], lips[:, :2]) > (0.1 if style == "moustache" else 0.2)
    clear &= ~_inside_polygon(face[:, :2], lips[:, :2])
    upper_lip = _smoothstep((nose_base - 0.15 - y) / 0.3) * _smoothstep((y - lip_top) / 0.2) \
        * _smoothstep((corner + 0.5 - np.abs(x)) / 0.4)
    if style == "moustache":
        droop = _smoothstep((corner + 0.6 - np.abs(x)) / 0.4) * _smoothstep(
            (np.abs(x) - corner + 0.6) / 0.3) * _smoothstep((y - lip_top + 1.2) / 0.3) \
            * (y < nose_base - 0.3)
        return np.maximum(upper_lip, droop) * clear
    # Full: below a line from the sideburns (mid-ear height at the oval) to beside the nose.
    cheek_line = np.interp(np.abs(x), [0.0, 1.6, 3.0, 5.0, 7.0],
                           [nose_base - 0.3, nose_base - 0.6, nose_base - 1.4, -2.6, -1.4])
    return np.maximum(_smoothstep((cheek_line - y) / 0.5), upper_lip) * clear


def _inside_polygon(points: FloatArray, polygon: FloatArray) -> npt.NDArray[np.bool_]:
    """Even-odd rule: which 2D points lie inside the closed polygon."""
    inside = np.zeros(len(points), dtype=bool)
    a, b = polygon, np.roll(polygon, -1, axis=0)
    for (x0, y0), (x1, y1) in zip(a, b, strict=True):
        crosses = (y0 > points[:, 1]) != (y1 > points[:, 1])
        x_cross = x0 + (points[:, 1] - y0) * (x1 - x0) / np.where(y1 == y0, 1e-12, y1 - y0)
        inside ^= crosses & (points[:, 0] < x_cross)
    return inside


def _polygon_distance(points: FloatArray, polygon: FloatArray) -> FloatArray:
    """Distance from each 2D point to the closed polygon's outline."""
    a, b = polygon, np.roll(polygon, -1, axis=0)
    edge = b - a
    t = np.clip(np.einsum("pkj,kj->pk", points[:, None] - a, edge)
                / np.maximum(np.einsum("kj,kj->k", edge, edge), 1e-12), 0, 1)
    nearest = a + t[..., None] * edge
    return np.linalg.norm(points[:, None] - nearest, axis=2).min(axis=1)


# --- glasses -------------------------------------------------------------------------------

def make_glasses(skull: Skull, face: npt.ArrayLike, style: GlassesStyle, colour: Colour,
                 seed: int) -> Part | None:
    """Glasses on `face` (float (478, 3), neutral) whose arms reach `skull`'s ears: a rim around each eye ~0.8 cm in front of
    the lids (and clear of brows and cheeks), a bridge over the nose, and temple arms back to
    the tops of the ears. No lenses. Static (the head's rigid part). Label GLASSES; None for
    "none". `seed` varies the frame's size a little."""
    if style not in GLASSES_STYLES:
        raise DoppelError(f"unknown glasses style {style!r}; use one of "
                          f"{', '.join(GLASSES_STYLES)}")
    if style == "none":
        return None
    face = np.asarray(face, dtype=np.float64)
    regions = load_face_model().regions
    rng = np.random.default_rng([seed, 0x61A55])
    scale = rng.uniform(0.95, 1.08)
    radius = 0.1 if style == "round" else 0.13
    parts, inner, outer = [], [], []
    for side in ("right", "left"):
        rim = _rim_path(face, face[regions[f"{side}_eye"]], style, scale)
        parts.append(_sweep_tube(rim, radius, closed=True))
        inner.append(rim[np.argmin(np.abs(rim[:, 0]) - 0.6 * rim[:, 1])])
        outer.append(rim[np.argmax(np.abs(rim[:, 0]) + 0.6 * rim[:, 1])])
    parts.append(_sweep_tube(_bridge_path(face, inner[0], inner[1]), radius, closed=False))
    for hinge in outer:
        parts.append(_sweep_tube(_temple_path(skull, hinge), 0.8 * radius, closed=False))
    part = _concatenate(parts)
    count = len(part.vertices)
    return Part(part.vertices, part.normals, np.tile(np.array(colour, float), (count, 1)),
                part.triangles, np.full(count, GLASSES, np.uint8),
                np.full(count, _GLASSES_SPECULAR))


def _rim_path(face: FloatArray, eye: FloatArray, style: str, scale: float,
              points: int = 28) -> FloatArray:
    """float (N, 3): a closed rim around an eye opening, in front of every face vertex behind it
    and 0.8 cm in front of the lids."""
    centre = eye.mean(axis=0)
    half_width = 0.62 * np.ptp(eye[:, 0]) * scale + 0.15
    half_height = (0.95 if style == "round" else 0.7) * half_width
    angle = 2 * np.pi * np.arange(points) / points
    power = 2.0 if style == "round" else 5.0  # a superellipse: rectangular with round corners
    cos, sin = np.cos(angle), np.sin(angle)
    x = centre[0] + half_width * np.sign(cos) * np.abs(cos) ** (2 / power)
    y = centre[1] + 0.2 + half_height * np.sign(sin) * np.abs(sin) ** (2 / power)
    front = eye[:, 2].max() + 0.8
    z = np.array([max(front, _face_depth_near(face, px, py, 0.6) + 0.45)
                  for px, py in zip(x, y, strict=True)])
    z = np.convolve(np.r_[z[-1], z, z[0]], np.ones(3) / 3, "valid")
    z = np.maximum(z, np.maximum.reduce([np.roll(z, -1), np.roll(z, 1), z]) - 0.05)
    return np.column_stack([x, y, z])


def _face_depth_near(face: FloatArray, x: float, y: float, reach: float) -> float:
    """The largest z of face vertices within `reach` cm of (x, y) (the face's front there)."""
    near = np.hypot(face[:, 0] - x, face[:, 1] - y) < reach
    return float(face[near, 2].max()) if near.any() else -np.inf


def _bridge_path(face: FloatArray, right: FloatArray, left: FloatArray, points: int = 9
                 ) -> FloatArray:
    """An arch over the nose between the rims' inner edges, clear of the nose."""
    t = np.linspace(0, 1, points)
    path = right + t[:, None] * (left - right)
    path[:, 1] += 0.3 * np.sin(np.pi * t)
    depth = np.array([_face_depth_near(face, px, py, 0.5) + 0.35 for px, py, _ in path])
    path[:, 2] = np.maximum(path[:, 2], depth)
    return path


def _temple_path(skull: Skull, hinge: FloatArray, points: int = 10) -> FloatArray:
    """An arm from the rim's outer edge back over the temple to the top of the ear, bowed out to
    clear the head, then hooked down behind the ear."""
    side = np.sign(hinge[0])
    ear_top = _ear_centre(skull, side) + [side * 0.15, 2.9, 0.0]
    start = hinge + [side * 0.25, 0.0, -0.3]
    t = np.linspace(0, 1, points)[:, None]
    path = start + t * (ear_top - start)
    path[:, 0] += side * 0.45 * np.sin(np.pi * t[:, 0]) ** 0.7
    hook = ear_top + [[side * -0.05, -0.5, -1.0], [side * -0.15, -1.5, -1.6]]
    return np.vstack([hinge, path, hook])


def _sweep_tube(path: FloatArray, radius: float, closed: bool, sides: int = 6) -> Part:
    """A tube of `sides` around a polyline, smooth normals pointing out of it."""
    tangent = np.gradient(path, axis=0) if not closed else np.roll(path, -1, 0) - np.roll(path, 1,
                                                                                           0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    reference = np.where(np.abs(tangent[:, 2:3]) > 0.8, [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    normal = np.cross(tangent, reference)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    binormal = np.cross(tangent, normal)
    angle = 2 * np.pi * np.arange(sides) / sides
    around = (np.cos(angle)[None, :, None] * normal[:, None, :]
              + np.sin(angle)[None, :, None] * binormal[:, None, :])  # (N, S, 3)
    vertices = (path[:, None, :] + radius * around).reshape(-1, 3)
    count = len(path)
    segments = count if closed else count - 1
    k, s = np.meshgrid(np.arange(segments), np.arange(sides), indexing="ij")
    a = k * sides + s
    b = k * sides + (s + 1) % sides
    c = ((k + 1) % count) * sides + s
    d = ((k + 1) % count) * sides + (s + 1) % sides
    triangles = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                                np.stack([b, c, d], -1).reshape(-1, 3)])
    normals = around.reshape(-1, 3)
    corners = vertices[triangles]
    facing = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    inward = np.einsum("ij,ij->i", facing, normals[triangles].sum(axis=1)) < 0
    triangles[inward] = triangles[inward][:, [0, 2, 1]]
    colours = np.ones((len(vertices), 3))
    return Part(vertices, normals, colours, triangles, np.full(len(vertices), GLASSES, np.uint8),
                np.full(len(vertices), _GLASSES_SPECULAR))
