"""Derive the canonical 68-point face template that `doppel.faces.align` aligns faces to, and
print it as the Python constant to paste over `TEMPLATE` in src/doppel/faces/align.py.

The template is the mean shape of dlib's 68-point predictions on frontal, expressionless renders
of the identity pool's actors (HOG box, as the predictor was trained), found by generalised
Procrustes analysis: every shape is aligned to the running mean by `fit_face` (rotation from the
eyes, scale and shift from eyes and nose), exactly as faces are aligned at run time, so the jaw
and mouth sit in the template where they land on average. The mean is then made
mirror-symmetric (eye line levelled, averaged with its reflection) and scaled into the unit
square: its bounding box centred, the longer side 1.

    .venv/bin/python tools/make_align_template.py [--size 512]
"""

from __future__ import annotations

import argparse

import numpy as np

from doppel.faces.align import ALIGN_POINTS, MIRROR68, fit_face, transform_points
from doppel.faces.identity import find_models
from doppel.synth import neutral_performance, random_actor, random_scene, render
from doppel.synth.pool import POOL_SEEDS


def predict_points(size: int) -> list[np.ndarray]:
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(find_models() / "shape_predictor_68_face_landmarks.dat"))
    shapes = []
    for seed in POOL_SEEDS:
        frame = next(render(random_actor(seed), neutral_performance(1, 5.0), random_scene(seed),
                            size))
        rects, scores, _ = detector.run(frame.rgb, 0)
        if not rects:
            continue  # HOG misses a few dark or bespectacled faces; the rest is plenty
        shape = predictor(frame.rgb, rects[int(np.argmax(scores))])
        shapes.append(np.array([(p.x, p.y) for p in shape.parts()], np.float64))
    return shapes


def mean_shape(shapes: list[np.ndarray], rounds: int = 20) -> np.ndarray:
    mean = normalise(shapes[0])
    for _ in range(rounds):
        aligned = [transform_points(shape, fit_face(shape, mean)) for shape in shapes]
        mean = normalise(np.mean(aligned, axis=0))
    return mean


def normalise(shape: np.ndarray) -> np.ndarray:
    """Centred on the alignment points, their spread 1: fixes the gauge of the Procrustes mean."""
    centred = shape - shape[ALIGN_POINTS].mean(axis=0)
    return centred / np.sqrt((centred[ALIGN_POINTS] ** 2).sum(axis=1).mean())


def symmetrise(shape: np.ndarray) -> np.ndarray:
    """Level the eye line, then average with the mirror image: exactly symmetric about x = 0."""
    right, left = shape[36:42].mean(axis=0), shape[42:48].mean(axis=0)
    angle = np.arctan2(*(left - right)[::-1])
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    level = shape @ rotation.T
    return (level + level[MIRROR68] * (-1.0, 1.0)) / 2


def fit_unit_square(shape: np.ndarray) -> np.ndarray:
    low, high = shape.min(axis=0), shape.max(axis=0)
    return (shape - (low + high) / 2) / (high - low).max() + 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="render size in pixels")
    args = parser.parse_args()
    shapes = predict_points(args.size)
    template = fit_unit_square(symmetrise(mean_shape(shapes)))
    spread = [np.abs(transform_points(shape, fit_face(shape, template)) - template).mean()
              for shape in shapes]
    print(f"# {len(shapes)} of {len(POOL_SEEDS)} pool actors; mean distance of an actor's "
          f"aligned points from the template {np.mean(spread):.4f} (unit square)")
    rows = [f"({x + 0.0:.5f}, {y + 0.0:.5f})" for x, y in np.round(template, 5)]
    print("TEMPLATE = _freeze(np.array([")
    for start in range(0, 68, 4):
        print("    " + ", ".join(rows[start:start + 4]) + ",")
    print("]))")


if __name__ == "__main__":
    main()
