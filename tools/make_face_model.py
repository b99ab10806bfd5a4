"""Regenerate src/doppel/synth/data/face_model.npz, the base head the synthetic actors start from.

Runs mediapipe's face mesh on skimage.data.astronaut() (a NASA public-domain photo), turns the
478 landmarks into a frontal, symmetric, neutral-expression 3D mesh in centimetres and stores
only that geometry (never pixels). Usage:

    .venv/bin/python tools/make_face_model.py [--preview DIR]

--preview writes front and side wireframes (PNG) to DIR for a visual check; don't commit them.
"""

from __future__ import annotations

import argparse
import collections
import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt

OUTPUT = Path(__file__).resolve().parents[1] / "src/doppel/synth/data/face_model.npz"
EYE_DISTANCE_CM = 6.3  # adult mean interpupillary distance; sets the model's scale
NEUTRAL_MOUTH_WIDTH_CM = 5.0  # corner to corner, relaxed (the photo's smile is ~6.3)
LIP_THICKENING = 1.3  # smiling stretches the lips thin
CHEEK_HANDLES = [50, 280, 101, 330, 36, 266, 205, 425]  # cheek apples, lowered when not smiling
CHEEK_DROP_CM = 0.2
PIN_RADIUS_CM = 5.0  # vertices farther than this from the mouth do not move
SOURCE = ("Derived from skimage.data.astronaut() (NASA public-domain photo) with mediapipe 0.10.14 "
          "face mesh (refine_landmarks); pose removed, mirrored to be symmetric, smile "
          "neutralised to a closed mouth; geometry only, no pixels. "
          "Regenerate with tools/make_face_model.py.")

Points = npt.NDArray[np.float64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preview", type=Path, help="folder for wireframe PNGs")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    connections = load_connections()
    triangles = find_triangles(connections["tessellation"])
    points = detect_landmarks()
    points, mirror = align_frontal(points, connections)
    check_mirror(mirror, connections["tessellation"])
    points = symmetrise(points, mirror)
    points = neutralise_mouth(points, connections)
    points = symmetrise(points, mirror)
    triangles = orient_triangles(triangles, points)
    check_holes(triangles, connections)
    regions = build_regions(points, connections)
    pivot = np.array([0.0, points[[234, 454], 1].mean(), points[[234, 454], 2].mean()])

    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.output, vertices=points.astype(np.float32), triangles=triangles.astype(np.int32),
        mirror=mirror.astype(np.int32), pivot=pivot.astype(np.float32), source=np.array(SOURCE),
        **{f"region_{name}": index.astype(np.int32) for name, index in regions.items()})
    print(f"wrote {args.output}: {len(points)} vertices, {len(triangles)} triangles, "
          f"regions {', '.join(regions)}")
    if args.preview:
        write_previews(points, triangles, args.preview)


def load_connections() -> dict[str, set[tuple[int, int]]]:
    import mediapipe.python.solutions.face_mesh_connections as mesh

    names = ["tesselation", "face_oval", "lips", "left_eye", "right_eye", "left_eyebrow",
             "right_eyebrow", "left_iris", "right_iris", "nose"]
    connections = {name: {tuple(sorted(edge)) for edge in getattr(mesh, f"FACEMESH_{name.upper()}")}
                   for name in names}
    connections["tessellation"] = connections.pop("tesselation")  # mediapipe's spelling
    return connections


def detect_landmarks() -> Points:
    """Landmarks of astronaut() in pixels: x right, y up, z towards the camera."""
    import skimage.data

    from doppel.faces import MediapipeFaces

    with MediapipeFaces(max_faces=1) as detector:
        faces = detector.detect(skimage.data.astronaut())
    if len(faces) != 1:
        raise RuntimeError(f"expected one face in astronaut(), found {len(faces)}")
    face = faces[0]
    # mediapipe z grows away from the camera; flip y and z for a right-handed, y-up frame.
    return np.column_stack([face.landmarks[:, 0], -face.landmarks[:, 1], -face.depth]).astype(
        np.float64)


def find_triangles(edges: set[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """Faces of the tessellation: its 3-cliques, less the few that close a loop around a vertex.

    A 3-clique that is not a face shows up as a triangle all of whose edges would be shared by
    three triangles; those are dropped, which leaves every edge in one or two triangles.
    """
    neighbours = collections.defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = sorted({tuple(sorted((a, b, c)))
                      for a, b in edges for c in neighbours[a] & neighbours[b]})
    uses = collections.Counter(e for t in cliques for e in itertools.combinations(t, 2))
    faces = [t for t in cliques if not all(uses[e] > 2 for e in itertools.combinations(t, 2))]
    uses = collections.Counter(e for t in faces for e in itertools.combinations(t, 2))
    if max(uses.values()) > 2 or set(uses) != edges:
        raise RuntimeError("tessellation did not resolve to a manifold triangle mesh")
    return np.array(faces)


def ordered_ring(edges: set[tuple[int, int]], start: int) -> list[int]:
    """The vertices of a closed loop of edges in walking order, beginning at `start`."""
    neighbours = collections.defaultdict(list)
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    ring, previous = [start], None
    while True:
        options = [n for n in neighbours[ring[-1]] if n != previous]
        previous, following = ring[-1], options[0]
        if following == start:
            return ring
        ring.append(following)


def eye_centre(points: Points, edges: set[tuple[int, int]]) -> Points:
    return points[sorted({v for e in edges for v in e})].mean(axis=0)


def align_frontal(points: Points, connections: dict) -> tuple[Points, npt.NDArray[np.int64]]:
    """Rotate, centre and scale to the model frame; also find the left/right mirror of each vertex.

    x: the symmetry plane's normal (towards the subject's left, image right). z: the normal of
    the plane through the face oval, towards the camera. Origin between the eye centres;
    units centimetres, with EYE_DISTANCE_CM between the eye-opening centres.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    oval = sorted({v for e in connections["face_oval"] for v in e})
    left, right = connections["left_eye"], connections["right_eye"]
    x_axis = eye_centre(points, left) - eye_centre(points, right)
    mirror = np.arange(len(points))
    for _ in range(4):
        centred = points - points[oval].mean(axis=0)
        normal = np.linalg.svd(centred[oval])[2][2]
        normal *= np.sign(normal @ (centred[1] - centred[oval].mean(axis=0)))  # nose in front
        x_axis /= np.linalg.norm(x_axis)
        z_axis = normal - (normal @ x_axis) * x_axis
        z_axis /= np.linalg.norm(z_axis)
        rotation = np.stack([x_axis, np.cross(z_axis, x_axis), z_axis])
        local = centred @ rotation.T
        mirror = linear_sum_assignment(cdist(local, local * (-1, 1, 1)))[1]
        pairs = points - points[mirror]
        # the symmetry plane's normal: the main direction joining each point to its mirror
        x_axis = np.linalg.svd(pairs[np.linalg.norm(pairs, axis=1) > 1e-6])[2][0]
        x_axis *= np.sign(x_axis @ rotation[0])
    middle = (eye_centre(local, left) + eye_centre(local, right)) / 2
    scale = EYE_DISTANCE_CM / np.linalg.norm(eye_centre(local, left) - eye_centre(local, right))
    return (local - middle) * scale, mirror


def check_mirror(mirror: npt.NDArray[np.int64], edges: set[tuple[int, int]]) -> None:
    if not np.array_equal(mirror[mirror], np.arange(len(mirror))):
        raise RuntimeError("mirror pairing is not an involution")
    # mediapipe's tessellation is symmetric except for 6 quads whose diagonals are flipped
    # between the sides; more mismatches than that would mean a wrong pairing.
    mirrored = {tuple(sorted((int(mirror[a]), int(mirror[b])))) for a, b in edges}
    if len(mirrored - edges) > 6:
        raise RuntimeError(f"mirror pairing breaks {len(mirrored - edges)} tessellation edges")


def symmetrise(points: Points, mirror: npt.NDArray[np.int64]) -> Points:
    return (points + points[mirror] * (-1, 1, 1)) / 2


def split_rings(edges: set[tuple[int, int]]) -> list[set[tuple[int, int]]]:
    """Connected components of an edge set, each as its own edge set."""
    components: list[set[tuple[int, int]]] = []
    for edge in sorted(edges):
        touching = [c for c in components if any(v in {a for e in c for a in e} for v in edge)]
        merged = {edge}.union(*touching)
        components = [c for c in components if c not in touching] + [merged]
    return components


def lip_rings(connections: dict) -> tuple[list[int], list[int]]:
    """(outer, inner) lip contours, each walked from the subject's right corner (61, 78)."""
    rings = split_rings(connections["lips"])
    outer, inner = sorted(rings, key=lambda ring: 61 not in {v for e in ring for v in e})
    return ordered_ring(outer, 61), ordered_ring(inner, 78)


def split_ring(ring: list[int], start: int, end: int,
               points: Points) -> tuple[list[int], list[int]]:
    """(upper, lower) halves of a closed contour, each walked from `start` to `end`."""
    ring = ring[ring.index(start):] + ring[: ring.index(start)]
    cut = ring.index(end)
    first, second = ring[: cut + 1], [start] + ring[cut:][::-1]
    if points[first, 1].mean() < points[second, 1].mean():
        first, second = second, first
    return first, second


def neutralise_mouth(points: Points, connections: dict) -> Points:
    """Turn the photo's smile into a relaxed closed mouth.

    Handles: the lip contours are narrowed towards the midline to a neutral mouth width, the
    inner contours brought together on a nearly straight line at the height where the lips
    part, the outer contours kept at (slightly thickened) lip heights above and below it, and
    the cheeks lowered a little. Everything else follows smoothly through a thin-plate spline
    that is pinned to zero far from the mouth and on the nose and eyes.
    """
    from scipy.interpolate import RBFInterpolator

    outer, inner = lip_rings(connections)
    centre = (points[13] + points[14]) / 2
    half_width = abs(points[61, 0])
    scale = NEUTRAL_MOUTH_WIDTH_CM / (2 * half_width)
    target = {}

    def contact_height(x: float) -> float:
        # corners sit a touch lower than the middle, as in a relaxed mouth
        return centre[1] - 0.08 * (x / (scale * half_width)) ** 2

    def forward(x: float) -> float:
        # a smile draws the corners back round the cheeks; narrowing brings them forward
        return 0.35 * abs(x) / half_width

    inner_upper, inner_lower = split_ring(inner, 78, 308, points)
    outer_upper, outer_lower = split_ring(outer, 61, 291, points)
    for up, low, out_up, out_low in zip(inner_upper, inner_lower, outer_upper, outer_lower):
        x = scale * (points[up, 0] + points[low, 0]) / 2
        z = (points[up, 2] + points[low, 2]) / 2 + forward((points[up, 0] + points[low, 0]) / 2)
        y = contact_height(x)
        target[up] = target[low] = np.array([x, y, z])
        for ring_point, lip_point, sign in ((out_up, up, 1.0), (out_low, low, -1.0)):
            thickness = abs(points[ring_point, 1] - points[lip_point, 1]) * LIP_THICKENING
            x_out = scale * points[ring_point, 0]
            target[ring_point] = np.array([
                x_out, contact_height(x_out) + sign * thickness,
                points[ring_point, 2] + forward(points[ring_point, 0])])
    for cheek in CHEEK_HANDLES:
        target[cheek] = points[cheek] + (0.0, -CHEEK_DROP_CM, 0.0)

    distance = np.linalg.norm(points - centre, axis=1)
    pinned = {v for v in range(468) if distance[v] > PIN_RADIUS_CM}
    pinned |= {v for e in connections["nose"] | connections["left_eye"] | connections["right_eye"]
               for v in e}
    pinned -= set(target)
    handles = sorted(target) + sorted(pinned)
    moves = np.array([target[v] - points[v] for v in sorted(target)]
                     + [[0.0, 0.0, 0.0]] * len(pinned))
    field = RBFInterpolator(points[handles], moves, kernel="thin_plate_spline")
    moved = points + field(points)
    moved[468:] = points[468:]  # irises stay with the (pinned) eyes
    return moved



def orient_triangles(triangles: npt.NDArray[np.int64], points: Points) -> npt.NDArray[np.int64]:
    """Wind every triangle the same way, counter-clockwise seen from outside (camera side)."""
    triangles = [list(t) for t in triangles]
    by_edge = collections.defaultdict(list)
    for index, t in enumerate(triangles):
        for a, b in itertools.combinations(t, 2):
            by_edge[(min(a, b), max(a, b))].append(index)
    normals = triangle_normals(points, np.array(triangles))
    seed = int(np.argmax(normals[:, 2] / np.linalg.norm(normals, axis=1)))
    if normals[seed, 2] < 0:
        triangles[seed].reverse()
    done, queue = {seed}, [seed]
    while queue:
        current = triangles[queue.pop()]
        for a, b in zip(current, current[1:] + current[:1]):
            for other in by_edge[(min(a, b), max(a, b))]:
                if other in done:
                    continue
                t = triangles[other]
                if any((t[i], t[(i + 1) % 3]) == (a, b) for i in range(3)):
                    t.reverse()  # a neighbour must run the shared edge the other way
                done.add(other)
                queue.append(other)
    if len(done) != len(triangles):
        raise RuntimeError("triangles do not form one connected surface")
    return np.array(triangles)


def triangle_normals(points: Points, triangles: npt.NDArray[np.int64]) -> Points:
    a, b, c = (points[triangles[:, i]] for i in range(3))
    return np.cross(b - a, c - a)


def check_holes(triangles: npt.NDArray[np.int64], connections: dict) -> None:
    """The mesh must be a surface whose only holes are the eyes and the mouth."""
    uses = collections.Counter(tuple(sorted(e)) for t in triangles.tolist()
                               for e in itertools.combinations(t, 2))
    directed = collections.Counter((a, b) for t in triangles.tolist()
                                   for a, b in zip(t, t[1:] + t[:1]))
    if max(directed.values()) > 1:
        raise RuntimeError("triangles are not consistently oriented")
    boundary = {e for e, n in uses.items() if n == 1}
    _, inner = lip_rings(connections)
    inner_edges = {tuple(sorted(e)) for e in zip(inner, inner[1:] + inner[:1])}
    expected = (connections["face_oval"] | connections["left_eye"] | connections["right_eye"]
                | inner_edges)
    if boundary != expected:
        raise RuntimeError(f"unexpected boundary: {sorted(boundary ^ expected)}")
    for ring in (inner, sorted({v for e in connections["left_eye"] for v in e}),
                 sorted({v for e in connections["right_eye"] for v in e})):
        if any(set(t) <= set(ring) for t in triangles.tolist()):
            raise RuntimeError("a triangle spans the mouth or an eye")


def build_regions(points: Points, connections: dict) -> dict[str, npt.NDArray[np.int64]]:
    """Named vertex index sets; "left" is the subject's left (+x, the image's right).

    Contours (face_oval, lips_*, *_eye*, *_brow) are in walking order; areas are sorted.
    """
    from scipy.spatial import ConvexHull
    from skimage.measure import points_in_poly

    def vertices(edges: set[tuple[int, int]]) -> list[int]:
        return sorted({v for e in edges for v in e})

    def inside(polygon: list[int] | Points) -> set[int]:
        outline = points[polygon, :2] if isinstance(polygon, list) else polygon
        return set(np.flatnonzero(points_in_poly(points[:468, :2], outline)).tolist())

    outer, inner = lip_rings(connections)
    regions: dict[str, list[int]] = {
        "face_oval": ordered_ring(connections["face_oval"], 10),
        "lips_outer": outer,
        "lips_inner": inner,
        "lips": sorted(inside(outer) | set(outer)),
    }
    for side, inner_corner, outer_corner in (("left", 362, 263), ("right", 133, 33)):
        ring = ordered_ring(connections[f"{side}_eye"], inner_corner)
        upper, lower = split_ring(ring, inner_corner, outer_corner, points)
        regions[f"{side}_eye"] = upper + lower[-2:0:-1]
        regions[f"{side}_eye_upper"] = upper
        regions[f"{side}_eye_lower"] = lower
        brow = split_rings(connections[f"{side}_eyebrow"])
        chains = [order_path(c, points) for c in brow]
        chains.sort(key=lambda c: -points[c, 1].mean())  # upper edge first
        regions[f"{side}_brow"] = chains[1] + chains[0][::-1]  # lower edge inwards-out, upper back
        ring = vertices(connections[f"{side}_iris"])
        centre = 473 if side == "left" else 468
        regions[f"{side}_iris"] = [centre] + ordered_ring(connections[f"{side}_iris"], ring[0])

    nose_outline = vertices(connections["nose"])
    top = points[168]
    corners = np.array([[top[0] - 0.8, top[1]], [top[0] + 0.8, top[1]]])
    hull_points = np.vstack([points[nose_outline, :2], corners])
    hull = hull_points[ConvexHull(hull_points).vertices]
    eyes = set(regions["left_eye"]) | set(regions["right_eye"])
    regions["nose"] = sorted((inside(hull) | set(nose_outline)) - eyes)

    corner_y = points[61, 1]
    lowest_lip = points[outer, 1].min()
    regions["chin"] = sorted(v for v in range(468) if points[v, 1] < lowest_lip - 0.1
                             and abs(points[v, 0]) < 1.25 * abs(points[61, 0]))
    oval = regions["face_oval"]
    jaw = [v for v in oval if points[v, 1] < corner_y]
    start = jaw.index(min(jaw, key=lambda v: points[v, 0]))  # from the subject's right
    regions["jaw"] = jaw if start == 0 else jaw[start:] + jaw[:start]
    lid_bottom = min(points[regions["left_eye_lower"], 1])
    nose_half = abs(points[[98, 327], 0]).max()
    taken = set(regions["lips"]) | set(regions["nose"]) | eyes | set(oval)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        regions[f"{side}_cheek"] = sorted(
            v for v in range(468) if v not in taken and corner_y < points[v, 1] < lid_bottom - 0.4
            and sign * points[v, 0] > nose_half + 0.2)
    brow_top = max(points[regions["left_brow"] + regions["right_brow"], 1])
    regions["forehead"] = sorted(v for v in range(468) if points[v, 1] > brow_top)
    return {name: np.array(index, np.int64) for name, index in regions.items()}


def order_path(edges: set[tuple[int, int]], points: Points) -> list[int]:
    """The vertices of an open chain of edges, starting from the end nearer the midline."""
    degree = collections.Counter(v for e in edges for v in e)
    ends = [v for v, n in degree.items() if n == 1]
    start = min(ends, key=lambda v: abs(points[v, 0]))
    path = [start]
    while len(path) < len(degree):
        path.append(next(b if a == path[-1] else a for a, b in edges
                         if path[-1] in (a, b) and (b if a == path[-1] else a) not in path))
    return path


def write_previews(points: Points, triangles: npt.NDArray[np.int64], folder: Path) -> None:
    """Front (x, y) and side (z, y) wireframes, 40 pixels per centimetre."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for name, axes in (("front", (0, 1)), ("side", (2, 1))):
        canvas = np.full((760, 760, 3), 255, np.uint8)
        flat = points[:, axes] * (40, -40) + (380, 300)
        lines = [np.round(flat[t] * 16).astype(np.int32) for t in triangles]
        cv2.polylines(canvas, lines, True, (90, 90, 90), 1, cv2.LINE_AA, shift=4)
        for v in range(468, 478):
            cv2.circle(canvas, tuple(np.round(flat[v]).astype(int)), 2, (0, 0, 255), -1)
        cv2.imwrite(str(folder / f"face_model_{name}.png"), canvas)


if __name__ == "__main__":
    main()
