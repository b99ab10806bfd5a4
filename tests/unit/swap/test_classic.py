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
    assert SWAPPERS.names() == ["classic", "identity", "model"]
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


def test_classic_swap_on_detected_landmarks_carries_the_source_identity(scenario):
    # As the swap command will run it: mediapipe's landmarks on the source picture and on
    # the target frames, never the truth; dlib says whose face the output shows.
    pytest.importorskip("dlib", reason="dlib (pip install dlib-bin) is not installed")
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder, identity_distance

    source, targets, truths = scenario
    encoder = IdentityEncoder()
    swapper = SWAPPERS.get("classic")()
    with open_detector("mediapipe", static=True) as detector:
        prepared = prepare_source(source.rgb, detector.detect(source.rgb)[0].landmarks)
        source_identity = encoder.embed(source.rgb, source.landmarks)
        to_source, unchanged = [], []
        for target in targets:
            face = detector.detect(target.rgb)[0]
            output = swapper.swap_frame(target.rgb, face, prepared)
            found = detector.detect(output)
            assert found, "the swapped face is still a face"
            to_source.append(identity_distance(encoder.embed(output, found[0].landmarks),
                                               source_identity))
            unchanged.append(identity_distance(encoder.embed(target.rgb, face.landmarks),
                                               source_identity))
    print(f"distance to the source: classic {np.median(to_source):.3f}, "
          f"unchanged target {np.median(unchanged):.3f}")
    assert np.median(to_source) < np.median(unchanged) - 0.1


@pytest.mark.parametrize("blend", ["poisson", "alpha"])
def test_working_on_the_face_region_changes_no_pixel(scenario, blend):
    from doppel.swap.classic import swap_whole_frame

    source, targets, _ = scenario
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (480, 720, 3), dtype=np.uint8)  # a big frame, a small face
    frame[100:356, 300:556] = targets[2].rgb
    landmarks = targets[2].landmarks + (300, 100)
    region = swap_face_classic(source.rgb, source.landmarks, frame, landmarks, blend=blend,
                               forehead=True)
    whole = swap_whole_frame(source.rgb, source.landmarks, frame, landmarks, blend=blend,
                             forehead=True)
    assert np.array_equal(region, whole)
    assert not np.array_equal(region, frame)
