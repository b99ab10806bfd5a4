"""The classic landmark swap on synthetic actors, scored against the rendered ideal swap.

The source is a frontal neutral render of actor A under the target's light (so the score
measures the warp and blend, not a lighting mismatch the classic swap cannot undo); the
targets are 6 frames of actor B with their true landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.metrics import masked_ssim
from doppel.swap import SWAPPERS, ClassicSwapper, prepare_source, swap_face_classic, warp_face
from doppel.synth import (Clip, generate_performance, neutral_performance, random_actor,
                          random_scene, render, render_clip, render_swap_truth)
from doppel.synth.pool import POOL_SEEDS
from doppel.types import Face

SIZE = 256
SOURCE_SEED, TARGET_SEED = POOL_SEEDS[4], POOL_SEEDS[5]


@pytest.fixture(scope="module")
def scenario():
    scene = random_scene(TARGET_SEED)
    source = next(render(random_actor(SOURCE_SEED), neutral_performance(1, 25.0), scene, SIZE))
    clip = Clip(random_actor(TARGET_SEED), generate_performance(3.0, 2.0, TARGET_SEED,
                                                                max_yaw=30.0), scene, (SIZE, SIZE))
    return source, list(render_clip(clip)), list(render_swap_truth(random_actor(SOURCE_SEED), clip))


def test_swappers_are_listed_and_unknown_names_refused():
    assert SWAPPERS.names() == ["classic", "identity"]
    with pytest.raises(DoppelError, match="unknown swapper"):
        SWAPPERS.get("deepfake")
    with pytest.raises(DoppelError, match="unknown blend"):
        ClassicSwapper(blend="magic")


def test_warp_puts_the_source_landmarks_on_the_target(scenario):
    source, targets, _ = scenario
    target = targets[0]
    marked = source.rgb.copy()
    point = source.landmarks[1].round().astype(int)  # the nose tip
    cv2.circle(marked, tuple(point), 2, (255, 0, 255), -1)
    warped, coverage = warp_face(marked, source.landmarks, target.rgb.shape, target.landmarks)
    x, y = target.landmarks[1].round().astype(int)
    assert coverage[y, x] == 255 and tuple(warped[y, x]) == pytest.approx((255, 0, 255), abs=40)
    assert coverage[0, 0] == 0 and not warped[coverage == 0].any()


def test_classic_swap_is_closer_to_the_truth_than_the_target(scenario):
    source, targets, truths = scenario
    swapped, unchanged = [], []
    for target, truth in zip(targets, truths):
        output = swap_face_classic(source.rgb, source.landmarks, target.rgb, target.landmarks)
        swapped.append(masked_ssim(output, truth.rgb, truth.face_mask))
        unchanged.append(masked_ssim(target.rgb, truth.rgb, truth.face_mask))
        far = cv2.dilate(target.face_mask, np.ones((25, 25), np.uint8)) == 0
        assert np.array_equal(output[far], target.rgb[far])
    print(f"masked SSIM vs truth: classic {np.mean(swapped):.3f}, "
          f"unchanged {np.mean(unchanged):.3f}")
    assert np.mean(swapped) > np.mean(unchanged) + 0.03


def test_swappers_swap_frames(scenario):
    source, targets, _ = scenario
    target = targets[0]
    face = Face(box=(0.0, 0.0, 1.0, 1.0), score=1.0, landmarks=target.landmarks,
                points68=np.zeros((68, 2), np.float32), pose=target.pose)
    prepared = prepare_source(source.rgb, source.landmarks)
    assert np.array_equal(SWAPPERS.get("identity")().swap_frame(target.rgb, face, prepared),
                          target.rgb)
    output = SWAPPERS.get("classic")(blend="alpha").swap_frame(target.rgb, face, prepared)
    assert output.shape == target.rgb.shape and not np.array_equal(output, target.rgb)
    with pytest.raises(DoppelError, match="478"):
        prepare_source(source.rgb, source.landmarks[:68])
