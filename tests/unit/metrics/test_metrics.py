"""Swap-quality metrics: their math on made-up pictures with known answers, and the issue's
sanity bars on a rendered clip whose ideal swap is known (synth's render_swap_truth)."""

import math
import tracemalloc

import numpy as np
import pytest

from doppel.metrics import (ClipScores, coverage, expression_nme, flicker, flicker_ratio,
                            identity_scores, landmark_nme, masked_psnr, masked_ssim, pose_error,
                            retrieval_top1)

SIZE = 96


def smooth_picture(seed: int, size: int = SIZE) -> np.ndarray:
    """A textured RGB picture in mid-grey levels (60-190), so small changes never clip."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (size, size, 3))
    blurred = cv2.GaussianBlur(noise, (0, 0), 2.0)
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min())
    return (60 + 130 * blurred).astype(np.uint8)


def disc_mask(size: int = SIZE, centre: tuple[float, float] | None = None,
              radius: float = 30.0) -> np.ndarray:
    cy, cx = centre if centre is not None else (size / 2, size / 2)
    rows, columns = np.mgrid[:size, :size]
    return np.where((rows - cy) ** 2 + (columns - cx) ** 2 <= radius ** 2, 255, 0).astype(np.uint8)


def add_noise(picture: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, picture.shape)
    return np.clip(picture + noise, 0, 255).round().astype(np.uint8)


# ---- picture: PSNR and SSIM ----------------------------------------------------------------

def test_identical_pictures_give_ssim_exactly_one_and_infinite_psnr():
    picture, mask = smooth_picture(0), disc_mask()
    assert masked_ssim(picture, picture.copy(), mask) == 1.0
    assert masked_psnr(picture, picture.copy(), mask) == math.inf


def test_more_noise_lowers_ssim_and_psnr_monotonically():
    picture, mask = smooth_picture(0), disc_mask()
    sigmas = (1.0, 3.0, 8.0, 20.0)
    ssims = [masked_ssim(add_noise(picture, sigma), picture, mask) for sigma in sigmas]
    psnrs = [masked_psnr(add_noise(picture, sigma), picture, mask) for sigma in sigmas]
    assert all(a > b for a, b in zip(ssims, ssims[1:])), ssims
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert 0.0 < ssims[-1] < ssims[0] < 1.0


def test_psnr_of_a_constant_offset_is_the_textbook_value():
    picture, mask = smooth_picture(0), disc_mask()
    assert masked_psnr(picture + 10, picture, mask) == pytest.approx(20 * math.log10(255 / 10))


def test_pixels_outside_the_mask_change_nothing():
    picture, mask = smooth_picture(0), disc_mask()
    output = add_noise(picture, 5.0)
    corrupted = output.copy()
    corrupted[mask == 0] = 255 - corrupted[mask == 0]
    assert masked_psnr(corrupted, picture, mask) == masked_psnr(output, picture, mask)
    assert masked_ssim(corrupted, picture, mask) == pytest.approx(
        masked_ssim(output, picture, mask), abs=1e-12)


def test_ssim_on_a_full_mask_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    picture = smooth_picture(0)
    output = add_noise(picture, 6.0)
    luma = [image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
            for image in (output, picture)]
    _, similarity = metrics.structural_similarity(
        *luma, data_range=255.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, full=True)
    full = np.full((SIZE, SIZE), 255, np.uint8)
    assert masked_ssim(output, picture, full) == pytest.approx(float(similarity.mean()),
                                                                abs=1e-6)


def test_an_empty_mask_or_mismatched_sizes_are_refused():
    picture = smooth_picture(0)
    with pytest.raises(ValueError, match="no pixels"):
        masked_psnr(picture, picture, np.zeros((SIZE, SIZE), np.uint8))
    with pytest.raises(ValueError, match="match"):
        masked_ssim(picture, picture[:-1], disc_mask())


# ---- flicker and coverage --------------------------------------------------------------------

def moving_clip(speed: int, frames: int = 8) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A texture sliding right by `speed` pixels a frame, under a disc mask that follows it."""
    texture = smooth_picture(3)
    pictures = [np.roll(texture, speed * index, axis=1) for index in range(frames)]
    masks = [disc_mask(centre=(SIZE / 2, 30 + speed * index)) for index in range(frames)]
    return pictures, masks


def test_truth_as_output_has_flicker_ratio_one():
    pictures, masks = moving_clip(1)
    assert flicker_ratio(pictures, pictures, masks) == 1.0
    assert flicker(pictures, masks) > 0


def test_a_frozen_output_has_flicker_ratio_zero():
    pictures, masks = moving_clip(1)
    assert flicker_ratio([pictures[0]] * len(pictures), pictures, masks) == 0.0


def test_doubled_motion_flickers_more_than_reality():
    truth, masks = moving_clip(1)
    faster, _ = moving_clip(2)
    assert flicker_ratio(faster, truth, masks) > 1.3


def test_flicker_ignores_changes_outside_both_masks():
    pictures, masks = moving_clip(1)
    noisy = [picture.copy() for picture in pictures]
    for index, picture in enumerate(noisy):
        outside = (masks[index] <= 127) & (masks[max(index - 1, 0)] <= 127)
        if index + 1 < len(masks):
            outside &= masks[index + 1] <= 127
        picture[outside] = add_noise(picture, 30.0, seed=index)[outside]
    assert flicker(noisy, masks) == flicker(pictures, masks)


def test_flicker_needs_two_frames_with_a_face():
    pictures, masks = moving_clip(1, frames=1)
    with pytest.raises(ValueError, match="two consecutive"):
        flicker(pictures, masks)


def test_coverage_counts_frames_with_a_face():
    assert coverage([True, False, True, True]) == 0.75
    assert coverage([["face"], [], None, ["face", "face"]]) == 0.5
    with pytest.raises(ValueError):
        coverage([])


# ---- expression, pose and identity math ----------------------------------------------------

def face68() -> np.ndarray:
    points = np.random.default_rng(5).uniform(0, 100, (68, 2)).astype(np.float32)
    points[36], points[45] = (20.0, 40.0), (120.0, 40.0)  # outer eye corners 100 px apart
    return points


def test_landmark_nme_is_normalised_by_the_outer_eye_corners():
    truth = face68()
    shifted = truth + np.float32([3.0, 4.0])  # every point 5 px off
    assert landmark_nme(shifted, truth) == pytest.approx({"all": 0.05, "mouth": 0.05,
                                                          "eyes": 0.05})
    mouth_only = truth.copy()
    mouth_only[48:68] += np.float32([3.0, 4.0])
    errors = landmark_nme(mouth_only, truth, ("all", "mouth", "eyes", "jaw"))
    assert errors == pytest.approx({"all": 0.05 * 20 / 68, "mouth": 0.05, "eyes": 0.0,
                                    "jaw": 0.0})
    with pytest.raises(ValueError, match="unknown"):
        landmark_nme(truth, truth, ("lips",))


def test_pose_error_is_absolute_and_wraps_around():
    assert pose_error((10.0, -5.0, 179.0), (12.0, -5.0, -179.0)) == pytest.approx((2.0, 0.0, 2.0))


def test_identity_math_on_made_up_embeddings():
    axes = np.eye(128, dtype=np.float32)
    gallery = {"source": axes[0], "target": axes[1], "other": axes[2]}
    near_source = [axes[0] + 0.1 * axes[5], axes[0] + 0.2 * axes[6], axes[1] + 0.1 * axes[7]]
    assert retrieval_top1(near_source, gallery, "source") == pytest.approx(2 / 3)
    assert retrieval_top1(near_source, gallery, "target") == pytest.approx(1 / 3)
    scores = identity_scores(near_source, gallery["source"], gallery["target"])
    assert scores["to_source"] == pytest.approx(0.2)  # median of 0.1, 0.2 and 1.418
    assert scores["closer_to_source"] == pytest.approx(2 / 3) and scores["frames"] == 3
    with pytest.raises(ValueError, match="not in the gallery"):
        retrieval_top1(near_source, gallery, "nobody")


# ---- expression, apart from face shape ----------------------------------------------------

def talking_faces(frames: int = 12) -> list[np.ndarray]:
    """The alignment template's face at 200 px, opening its mouth by a varying amount."""
    from doppel.faces.align import TEMPLATE

    faces = []
    for index in range(frames):
        face = TEMPLATE * 200.0 + 50.0
        face[57:60, 1] += 40.0 * np.sin(index) ** 2  # lower lip, outer
        face[65:68, 1] += 40.0 * np.sin(index) ** 2  # lower lip, inner
        faces.append(face)
    return faces


def test_expression_error_ignores_face_shape_and_size_but_not_a_mouth_that_does_not_move():
    truth = talking_faces()
    # the same expressions on another face shape (a shorter lower face), larger and moved
    other = []
    for face in truth:
        face = face.copy()
        face[48:68, 1] -= 15.0
        face[5:12, 1] -= 10.0
        other.append(1.3 * face + (40.0, -25.0))
    assert np.median([landmark_nme(o, t)["mouth"] for o, t in zip(other, truth)]) > 0.1
    assert expression_nme(other, truth)["mouth"] < 1e-6
    # a mouth that never moves: the expression is lost, whatever its shape
    frozen = [other[0].copy() for _ in truth]
    assert expression_nme(frozen, truth)["mouth"] > 0.02
    assert math.isnan(expression_nme([], [])["all"])
    with pytest.raises(ValueError, match="against"):
        expression_nme(other, truth[:3])


def test_placed_error_is_what_a_perfect_swap_at_the_targets_place_scores():
    from doppel.metrics.face import placed_nme

    target = talking_faces()[0]
    # another mouth and jaw below the same eyes and nose: placed as the target's, the truth's
    # own shape is exactly where the truth has it (the target's geometry is not)
    other = target.copy()
    other[48:68, 1] -= 15.0
    other[5:12, 1] -= 10.0
    assert placed_nme(target, other) < 1e-9 < 0.02 < landmark_nme(target, other)["all"]
    # a head 30 % larger (around its eyes): no placement from the target's face finds its size
    eyes = target[36:48].mean(axis=0)
    larger = eyes + 1.3 * (target - eyes)
    assert placed_nme(target, larger) == pytest.approx(landmark_nme(target, larger)["all"])
    assert placed_nme(target, larger) > 0.05


# ---- the streaming accumulator ---------------------------------------------------------------

def fake_truth(index: int, rgb: np.ndarray, mask: np.ndarray):
    from doppel.synth import SynthFrame

    return SynthFrame(index, rgb, np.zeros((478, 2), np.float32), np.ones(478, bool), mask,
                      np.zeros(mask.shape, np.uint8), (0.0, 0.0, 0.0), (), (0.0, 0.0))


def test_clip_scores_keep_flat_memory():
    scores = ClipScores()
    big = np.zeros((256, 256, 3), np.uint8)
    big_mask = np.zeros((256, 256), np.uint8)
    big_mask[64:192, 64:192] = 255
    truth = fake_truth(0, big, big_mask)
    tracemalloc.start()
    for _ in range(5):
        scores.add(add_noise(big, 4.0), truth, None)
    before, _ = tracemalloc.get_traced_memory()
    for _ in range(30):
        scores.add(add_noise(big, 4.0), truth, None)
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after - before < big.nbytes  # 30 more frames grew it by less than one frame
    summary = scores.summary()
    assert summary["frames"] == 35 and summary["coverage"] == 0.0
    assert math.isnan(summary["nme_all"]) and math.isnan(summary["source_top1"])


# ---- the sanity bars on a rendered clip --------------------------------------------

@pytest.fixture(scope="module")
def rendered():
    """A 10-frame target clip of one pool actor, its ideal swap with another pool actor, and a
    gallery of mean identity embeddings of four pool actors (source and target among them)."""
    from doppel.faces import open_detector
    from doppel.faces.identity import IdentityEncoder
    from doppel.synth import (Clip, generate_performance, random_actor, random_scene, render,
                              render_clip, render_swap_truth)
    from doppel.synth.pool import POOL_SEEDS

    encoder = IdentityEncoder()  # a pinned dependency: missing models must fail, not skip
    source, target = (random_actor(seed) for seed in POOL_SEEDS[:2])
    clip = Clip(target, generate_performance(1.0, 10.0, 11), random_scene(11), (256, 256))
    target_frames = list(render_clip(clip))
    swap_frames = list(render_swap_truth(source, clip))
    names = ("source", "target", f"pool-{POOL_SEEDS[2]}", f"pool-{POOL_SEEDS[3]}")
    gallery = {}
    for name, seed in zip(names, POOL_SEEDS[:4]):
        frames = render(random_actor(seed), generate_performance(0.5, 10.0, seed),
                        random_scene(seed), 256)
        gallery[name] = np.mean([encoder.embed(frame.rgb, frame.landmarks) for frame in frames],
                                axis=0)
    with open_detector("mediapipe") as detector:
        def found(rgb):
            faces = detector.detect(rgb)
            return faces[0] if faces else None

        swap_faces = [found(frame.rgb) for frame in swap_frames]
        target_faces = [found(frame.rgb) for frame in target_frames]

    def embed(frames, faces):
        return [None if face is None else encoder.embed(frame.rgb, face.landmarks)
                for frame, face in zip(frames, faces)]

    return {"swap": swap_frames, "target": target_frames, "gallery": gallery,
            "swap_faces": swap_faces, "target_faces": target_faces,
            "swap_embeddings": embed(swap_frames, swap_faces),
            "target_embeddings": embed(target_frames, target_faces)}


def score_clip(rendered, output_key: str) -> dict[str, float]:
    scores = ClipScores(rendered["gallery"], source="source", target="target")
    for output, truth, face, embedding in zip(
            rendered[output_key], rendered["swap"], rendered[f"{output_key}_faces"],
            rendered[f"{output_key}_embeddings"]):
        scores.add(output.rgb, truth, face, embedding)
    return scores.summary()


def test_the_ideal_swap_as_output_meets_every_sanity_bar(rendered):
    summary = score_clip(rendered, "swap")
    assert summary["ssim"] == 1.0 and summary["ssim_mean"] == 1.0
    assert summary["psnr_db"] == math.inf
    assert summary["flicker_ratio"] == 1.0
    assert summary["coverage"] == 1.0
    assert summary["source_top1"] == 1.0 and summary["closer_to_source"] == 1.0
    # expression: the detector's error on the output is its own floor on the truth frames
    floor = np.median([landmark_nme(face.points68, points68_from(frame))["all"]
                       for frame, face in zip(rendered["swap"], rendered["swap_faces"])])
    assert summary["nme_all"] == floor
    assert floor < 0.08, floor
    # its expression error is the detector's jitter from frame to frame, smaller still
    assert summary["nme_expression_all"] < min(0.03, floor)
    assert summary["yaw_error"] < 10 and summary["pitch_error"] < 10 and summary["roll_error"] < 5


def test_source_retrieval_is_total_for_the_ideal_swap_and_nil_for_the_unchanged_target(rendered):
    gallery = rendered["gallery"]
    assert retrieval_top1(rendered["swap_embeddings"], gallery, "source") == 1.0
    assert retrieval_top1(rendered["target_embeddings"], gallery, "source") <= 0.1
    assert retrieval_top1(rendered["target_embeddings"], gallery, "target") >= 0.9
    swap = identity_scores(rendered["swap_embeddings"], gallery["source"], gallery["target"])
    unchanged = identity_scores(rendered["target_embeddings"], gallery["source"],
                                gallery["target"])
    assert swap["closer_to_source"] == 1.0 and swap["to_source"] < 0.6
    assert unchanged["closer_to_source"] == 0.0 and unchanged["to_target"] < 0.6


def test_the_unchanged_target_as_output_scores_worse_than_the_ideal_swap(rendered):
    summary = score_clip(rendered, "target")
    assert summary["ssim"] < 0.99 and summary["psnr_db"] < 40
    assert summary["source_top1"] <= 0.1


def points68_from(frame) -> np.ndarray:
    from doppel.faces import points68_from_mediapipe

    return points68_from_mediapipe(frame.landmarks)
