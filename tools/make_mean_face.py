"""Regenerate the iBUG-68 table in src/doppel/faces/landmarks.py (MESH_PAIRS) and the mean 3D
face src/doppel/faces/data/mean_face68.npz that head pose is measured against.

The table is measured. dlib's 68-point predictor (HOG detector, face_recognition_models) runs on
  - synthetic actors (seeds outside the identity pool) rendered at 512 px with random poses
    (|yaw| <= 30, |pitch|, |roll| <= 12 degrees) and the performances' expressions, whose true
    478 mesh points are known exactly, and
  - the astronaut photo (skimage.data.astronaut(), NASA public domain), mirrored, scaled and
    rotated (18 variants), whose 478 points come from mediapipe's face mesh.
For every iBUG point the tool picks one mesh vertex, or the midpoint of two vertices sharing a
mesh edge, minimising the mean distance to dlib's point (per frame divided by the outer-eye-corner
distance and clipped at CLIP, so dlib's outright misfits do not steer it), the synthetic and the
real face weighted equally, with mirror pairs chosen together so the table is symmetric.
dlib is less exact on rendered faces than on photos (it puts their eyes and mouth corners a few
per cent high), which is why the one real face carries half the weight.

The mean face is the synthetic actors' mean identity shape (synth's shape basis at zero, the
mean of random actors) mapped through the table: centimetres, x the subject's left, y up, z
towards the camera — synth's head frame, so a frontal face there has pose (0, 0, 0).

Usage:
    .venv/bin/python tools/make_mean_face.py [--cache FILE] [--check]

--cache keeps the measured pairs in FILE (npz) and reuses them; --check also measures head
pose and points68 error of both backends on pool actors and prints the numbers.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
LANDMARKS_FILE = ROOT / "src/doppel/faces/landmarks.py"
MEAN_FACE_FILE = ROOT / "src/doppel/faces/data/mean_face68.npz"
SEEDS = range(500, 532)  # synthetic actors for the fit; the pool (3000+) is kept for checks
FRAMES_PER_ACTOR = 12
SIZE = 512
MAX_YAW, MAX_PITCH, MAX_ROLL = 30.0, 12.0, 12.0
ASTRONAUT_WEIGHT = 0.5
CLIP = 0.2  # of the eye distance: a per-frame error above this counts as this
CANDIDATES = 50  # nearest single vertices searched for pairs
EYE_CORNERS = (33, 263)  # outer eye corners, mediapipe numbering
NUM_MESH = 468  # vertices 468..477 are the irises, which follow the gaze
# iBUG point -> its mirror image's point.
IBUG_MIRROR = np.r_[16 - np.arange(17), 26 - np.arange(10), [27, 28, 29, 30],
                    [35, 34, 33, 32, 31], [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40],
                    [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67,
                     66, 65]]
SOURCE = ("Mean identity shape of doppel's synthetic actors (synth shape basis at zero) at "
          "the 68 iBUG points of doppel.faces.landmarks.MESH_PAIRS; cm, x subject's left, "
          "y up, z towards the camera. Regenerate with tools/make_mean_face.py.")

Array = npt.NDArray[np.float64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="npz file for the measured pairs")
    parser.add_argument("--check", action="store_true", help="measure pose and points68 error")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype")  # mediapipe's

    samples = load_or_collect(args.cache)
    pairs = fit_table(samples)
    report_table(samples, pairs)
    write_table(pairs)
    write_mean_face(pairs)
    if args.check:
        check_backends()


# ---- measuring ------------------------------------------------------------------------------


def load_or_collect(cache: Path | None) -> dict[str, Array]:
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return {key: data[key] for key in data.files}
    samples = {**collect_synthetic(), **collect_astronaut()}
    if cache is not None:
        np.savez_compressed(cache, **samples)
    return samples


def open_dlib() -> tuple[Any, Any]:
    import dlib

    from doppel.faces.identity import find_models

    predictor = dlib.shape_predictor(str(find_models() / "shape_predictor_68_face_landmarks.dat"))
    return dlib.get_frontal_face_detector(), predictor


def run_dlib(detector: Any, predictor: Any, rgb: npt.NDArray[np.uint8],
             near: Array | None = None) -> Array | None:
    """dlib's 68 points of the face whose box overlaps `near` (x0, y0, x1, y1) most."""
    rects = detector(rgb, 0)
    if not rects:
        return None
    boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], np.float64)
    best = 0 if near is None else int(np.argmax([iou(box, near) for box in boxes]))
    if near is not None and iou(boxes[best], near) < 0.3:
        return None
    shape = predictor(rgb, rects[best])
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


def iou(a: Array, b: Array) -> float:
    inner = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    return float(inner / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inner))


def posed_performance(seed: int, frames: int, max_yaw: float, max_pitch: float,
                      max_roll: float) -> Any:
    """A performance with the generator's expressions and uniformly random head poses."""
    from doppel.synth import generate_performance

    rng = np.random.default_rng([seed, 68])
    performance = generate_performance(frames / 5.0, 5.0, seed, max_yaw=max_yaw)
    count = len(performance)
    return replace(performance,
                   yaw=rng.uniform(-max_yaw, max_yaw, count).astype(np.float32),
                   pitch=rng.uniform(-max_pitch, max_pitch, count).astype(np.float32),
                   roll=rng.uniform(-max_roll, max_roll, count).astype(np.float32))


def collect_synthetic() -> dict[str, Array]:
    from doppel.synth import random_actor, random_scene, render

    detector, predictor = open_dlib()
    truth, found, poses = [], [], []
    for seed in SEEDS:
        performance = posed_performance(seed, FRAMES_PER_ACTOR, MAX_YAW, MAX_PITCH, MAX_ROLL)
        for frame in render(random_actor(seed), performance, random_scene(seed), SIZE):
            box = np.r_[frame.landmarks.min(axis=0), frame.landmarks.max(axis=0)]
            points = run_dlib(detector, predictor, frame.rgb, box)
            if points is not None:
                truth.append(frame.landmarks)
                found.append(points)
                poses.append(frame.pose)
        print(f"synthetic actor {seed}: {len(found)} frames so far", flush=True)
    return {"synth_mesh": np.array(truth, np.float64), "synth_dlib": np.array(found),
            "synth_pose": np.array(poses, np.float64)}


def collect_astronaut() -> dict[str, Array]:
    import cv2
    from mediapipe.python import solutions
    from skimage.data import astronaut

    detector, predictor = open_dlib()
    meshes, found = [], []
    # mediapipe's face mesh itself, not doppel.faces (which needs this tool's outputs).
    with solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as faces:
        for flip in (False, True):
            for scale in (1.0, 1.5, 2.0):
                for angle in (-8.0, 0.0, 8.0):
                    image = astronaut()[:, ::-1] if flip else astronaut()
                    height, width = image.shape[:2]
                    centre = ((width - 1) / 2, (height - 1) / 2)
                    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
                    matrix[:, 2] += np.array(centre) * (scale - 1)
                    size = (round(width * scale), round(height * scale))
                    image = cv2.warpAffine(np.ascontiguousarray(image), matrix, size,
                                           flags=cv2.INTER_CUBIC)
                    mesh = faces.process(image).multi_face_landmarks
                    points = run_dlib(detector, predictor, image)
                    if mesh and points is not None:
                        normalised = np.array([(p.x, p.y) for p in mesh[0].landmark])
                        meshes.append(normalised * size - 0.5)  # see doppel.faces.mediapipe
                        found.append(points)
    print(f"astronaut: {len(found)} variants", flush=True)
    return {"astro_mesh": np.array(meshes, np.float64), "astro_dlib": np.array(found)}


# ---- fitting --------------------------------------------------------------------------------


def eye_distance(mesh: Array) -> Array:
    return np.linalg.norm(mesh[:, EYE_CORNERS[0]] - mesh[:, EYE_CORNERS[1]], axis=1)


def fit_table(samples: dict[str, Array]) -> npt.NDArray[np.int64]:
    """(68, 2) vertex pairs; see the module docstring for the rule."""
    from doppel.synth.face_model import load_face_model

    model = load_face_model()
    mirror = model.mirror.astype(np.int64)
    edges = {(min(a, b), max(a, b)) for triangle in model.triangles
             for a, b in ((triangle[0], triangle[1]), (triangle[1], triangle[2]),
                          (triangle[0], triangle[2]))}
    sets = [(samples["synth_mesh"], samples["synth_dlib"], 1 - ASTRONAUT_WEIGHT),
            (samples["astro_mesh"], samples["astro_dlib"], ASTRONAUT_WEIGHT)]
    sets = [(mesh, points, weight, eye_distance(mesh)) for mesh, points, weight in sets]

    def cost(point: int, a: int, b: int) -> float:
        total = 0.0
        for mesh, points, weight, eyes in sets:
            error = np.linalg.norm((mesh[:, a] + mesh[:, b]) / 2 - points[:, point], axis=1)
            total += weight * float(np.minimum(error / eyes, CLIP).mean())
        return total

    def symmetric_cost(point: int, a: int, b: int) -> float:
        return cost(point, a, b) + cost(int(IBUG_MIRROR[point]), mirror[a], mirror[b])

    def is_edge(a: int, b: int) -> bool:
        return a == b or (min(a, b), max(a, b)) in edges

    table = np.zeros((68, 2), np.int64)
    for point in range(68):
        partner = int(IBUG_MIRROR[point])
        if partner < point:
            table[point] = mirror[table[partner]]
            continue
        singles = np.array([symmetric_cost(point, v, v) for v in range(NUM_MESH)])
        nearest = [int(v) for v in np.argsort(singles)[:CANDIDATES]]
        if partner == point:  # on the midline: midline vertices or a mirror pair's midpoint
            middle = [v for v in range(NUM_MESH) if mirror[v] == v]
            options = [(v, int(mirror[v])) for v in range(NUM_MESH)] + [
                (a, b) for i, a in enumerate(middle) for b in middle[i + 1:]]
        else:
            options = [(a, b) for i, a in enumerate(nearest) for b in nearest[i:]]
        options = [(a, b) for a, b in options if is_edge(a, b)]
        costs = [symmetric_cost(point, a, b) for a, b in options]
        table[point] = sorted(options[int(np.argmin(costs))])
    return table


def map_mesh(mesh: Array, pairs: npt.NDArray[np.int64]) -> Array:
    return (mesh[..., pairs[:, 0], :] + mesh[..., pairs[:, 1], :]) / 2


def report_table(samples: dict[str, Array], pairs: npt.NDArray[np.int64]) -> None:
    from doppel.faces.landmarks import POINT_GROUPS

    yaw = np.abs(samples["synth_pose"][:, 0])
    print("\nmesh -> iBUG vs dlib, % of outer-eye-corner distance; per frame the group's "
          "mean point error, then the median (p90) over frames")
    print(f"{'group':6}  {'synth |yaw|<=15':>16}  {'synth 15-30':>16}  {'astronaut':>10}")
    for name, rows in POINT_GROUPS.items():
        cells = []
        for prefix, chosen in (("synth", yaw <= 15), ("synth", yaw > 15), ("astro", None)):
            mesh, points = samples[f"{prefix}_mesh"], samples[f"{prefix}_dlib"]
            if chosen is not None:
                mesh, points = mesh[chosen], points[chosen]
            errors = np.linalg.norm(map_mesh(mesh, pairs) - points, axis=2)
            group = 100 * errors[:, list(rows)].mean(axis=1) / eye_distance(mesh)
            cells.append(f"{np.median(group):5.1f} ({np.percentile(group, 90):4.1f})")
        print(f"{name:6}  {cells[0]:>16}  {cells[1]:>16}  {cells[2]:>10}")
    print(f"frames: synth {int((yaw <= 15).sum())} + {int((yaw > 15).sum())}, "
          f"astronaut {len(samples['astro_mesh'])}")


def write_table(pairs: npt.NDArray[np.int64]) -> None:
    cells = [f"({a}, {b})," for a, b in pairs]
    lines, line = [], "   "
    for cell in cells:
        if len(line) + 1 + len(cell) > 99:
            lines.append(line)
            line = "   "
        line += " " + cell
    lines.append(line)
    block = ("MESH_PAIRS: tuple[tuple[int, int], ...] = (\n" + "\n".join(lines) + "\n)\n")
    text = LANDMARKS_FILE.read_text()
    pattern = re.compile(r"(# BEGIN GENERATED[^\n]*\n).*?(# END GENERATED)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"no generated block in {LANDMARKS_FILE}")
    LANDMARKS_FILE.write_text(pattern.sub(lambda m: m.group(1) + block + m.group(2), text))
    print(f"wrote the table to {LANDMARKS_FILE.relative_to(ROOT)}")


def write_mean_face(pairs: npt.NDArray[np.int64]) -> None:
    from doppel.synth.actor import load_shape_basis

    points = map_mesh(load_shape_basis().base.astype(np.float64), pairs)
    MEAN_FACE_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(MEAN_FACE_FILE, points=points.astype(np.float32),
                        source=np.array(SOURCE))
    print(f"wrote {MEAN_FACE_FILE.relative_to(ROOT)}")


# ---- checking -------------------------------------------------------------------------------


CHECK_ACTORS = 12  # pool actors
CHECK_FRAMES = 10  # per actor
CHECK_SIZE = 256


def check_backends() -> None:
    """Pose error (median / p90 per angle) and points68 NME of both backends on pool actors
    with |yaw| <= 30, pitch and roll within +-15 degrees."""
    import importlib

    from doppel.faces import open_detector
    from doppel.synth import random_actor, random_scene, render
    from doppel.synth.pool import POOL_SEEDS

    # Reload: the table was just rewritten.
    importlib.reload(importlib.import_module("doppel.faces.landmarks"))
    from doppel.faces.landmarks import points68_from_mediapipe

    frames = [frame for seed in POOL_SEEDS[:CHECK_ACTORS]
              for frame in render(random_actor(seed),
                                  posed_performance(seed, CHECK_FRAMES, 30.0, 15.0, 15.0),
                                  random_scene(seed), CHECK_SIZE)]
    print(f"\ncheck: {len(frames)} frames of {CHECK_ACTORS} pool actors at {CHECK_SIZE} px")
    for name in ("mediapipe", "dlib"):
        errors, nme, missed, started = [], [], 0, time.perf_counter()
        with open_detector(name) as detector:
            for frame in frames:
                faces = detector.detect(frame.rgb)
                if not faces:
                    missed += 1
                    continue
                errors.append(np.subtract(faces[0].pose, frame.pose))
                truth = points68_from_mediapipe(frame.landmarks)
                nme.append(np.linalg.norm(faces[0].points68 - truth, axis=1).mean()
                           / np.linalg.norm(truth[36] - truth[45]))
        seconds = (time.perf_counter() - started) / len(frames)
        absolute = np.abs(np.array(errors))
        print(f"{name}: found {len(frames) - missed}/{len(frames)}, {1000 * seconds:.0f} ms/frame;"
              f" points68 NME median {100 * np.median(nme):.1f} %, p90 "
              f"{100 * np.percentile(nme, 90):.1f} %")
        for column, angle in enumerate(("yaw", "pitch", "roll")):
            print(f"  {angle:5}: median {np.median(absolute[:, column]):4.1f} deg, p90 "
                  f"{np.percentile(absolute[:, column], 90):4.1f}, mean signed "
                  f"{np.array(errors)[:, column].mean():+4.1f}")


if __name__ == "__main__":
    main()
