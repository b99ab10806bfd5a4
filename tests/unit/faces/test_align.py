"""Alignment to the canonical template: the similarity fit, exact round trips (points, pixel
convention, pictures), the template's eyes landing where they should on synthetic actors and
the astronaut (dlib's 68-point predictions), and steadiness while a head turns."""

import dataclasses
import itertools

import numpy as np
import pytest

dlib = pytest.importorskip("dlib", reason="dlib (pip install dlib-bin) is not installed")
skimage_data = pytest.importorskip("skimage.data")

from doppel.errors import DoppelError  # noqa: E402
from doppel.faces.align import (  # noqa: E402
    covers,
    reframe_matrix,
    warp_crop,
    COVERAGES,
    TEMPLATE,
    AlignedFace,
    align_face,
    align_matrix,
    fit_similarity,
    invert_matrix,
    paste_face,
    template_points,
    transform_points,
)
from doppel.faces.identity import find_models  # noqa: E402
from doppel.faces.landmarks import points68_from_mediapipe  # noqa: E402
from doppel.synth import neutral_performance, random_actor, random_scene, render  # noqa: E402
from doppel.synth.pool import POOL_SEEDS  # noqa: E402

SIZES = (64, 256, 1024)
ACTORS = POOL_SEEDS[10:14]


@pytest.fixture(scope="module")
def predict():
    """dlib's 68 points of the most confident HOG face, float32 (68, 2), or None."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(find_models() / "shape_predictor_68_face_landmarks.dat"))

    def points68(rgb, upsample=0):
        rects, scores, _ = detector.run(np.ascontiguousarray(rgb), upsample)
        if not rects:
            return None
        shape = predictor(np.ascontiguousarray(rgb), rects[int(np.argmax(scores))])
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    return points68


@pytest.fixture(scope="module")
def actors(predict):
    """(frame, dlib points68) of 4 pool actors, frontal and still, at 512 px."""
    found = []
    for seed in ACTORS:
        frame = next(render(random_actor(seed), neutral_performance(1, 5.0), random_scene(seed),
                            512))
        found.append((frame, predict(frame.rgb)))
    assert all(points is not None for _, points in found)
    return found


@pytest.fixture(scope="module")
def astronaut(predict):
    rgb = skimage_data.astronaut()
    return rgb, predict(rgb, upsample=1)


@pytest.fixture(scope="module")
def big_face(predict):
    """A 768-px frame whose face is about 250 px tall, and its dlib points."""
    seed = ACTORS[2]
    frame = next(render(random_actor(seed), neutral_performance(1, 5.0), random_scene(seed), 768))
    return frame, predict(frame.rgb)


@pytest.fixture(scope="module")
def turning():
    """Two actors turning from -40 to 40 degrees yaw in 2.5-degree steps: their true mesh
    points' iBUG-68 view (dlib's predictor fails beyond about 30 degrees)."""
    performance = neutral_performance(33, 10.0)
    performance = dataclasses.replace(performance,
                                      yaw=np.linspace(-40, 40, 33).astype(np.float32))
    return [np.array([points68_from_mediapipe(frame.landmarks) for frame in
                      render(random_actor(seed), performance, random_scene(seed), 384)])
            for seed in POOL_SEEDS[20:22]]


def random_similarity(rng):
    angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.05, 20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([scale * rotation, rng.uniform(-500, 500, (2, 1))])


def eye_centres(points):
    return np.array([points[36:42].mean(axis=0), points[42:48].mean(axis=0)])


def test_fit_similarity_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    for _ in range(20):
        source = rng.uniform(-100, 100, (rng.integers(2, 70), 2))
        matrix = random_similarity(rng)
        np.testing.assert_allclose(fit_similarity(source, transform_points(source, matrix)),
                                   matrix, rtol=1e-9, atol=1e-7)


def test_fit_similarity_never_reflects():
    # a mirrored face is best matched by a mirror; Umeyama's correction returns a rotation
    mirrored = TEMPLATE * (-1.0, 1.0)
    matrix = fit_similarity(mirrored, TEMPLATE)
    assert np.linalg.det(matrix[:, :2]) > 0
    with pytest.raises(ValueError):
        fit_similarity(np.ones((5, 2)), TEMPLATE[:5])


def test_fit_similarity_is_umeyamas_svd_solution():
    # The closed form in the plane against Umeyama's SVD, mirrored point sets included.
    def umeyama(source, target):
        source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
        a, b = source - source_mean, target - target_mean
        u, singular, vt = np.linalg.svd(b.T @ a / len(a))
        signs = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
        scale = (singular * signs).sum() / (a ** 2).sum(axis=1).mean()
        linear = scale * u @ np.diag(signs) @ vt
        return np.hstack([linear, (target_mean - linear @ source_mean)[:, None]])

    rng = np.random.default_rng(2)
    for trial in range(200):
        source = rng.normal(size=(rng.integers(2, 70), 2)) * rng.uniform(0.1, 100)
        target = source @ rng.normal(size=(2, 2)) + rng.normal(size=2)
        if trial % 3 == 0:
            target = rng.normal(size=source.shape)  # unrelated points
        if trial % 2:
            target = target * (-1.0, 1.0)  # mirrored
        np.testing.assert_allclose(fit_similarity(source, target), umeyama(source, target),
                                   rtol=1e-9, atol=1e-9)


def test_round_trip_of_points_through_random_matrices():
    rng = np.random.default_rng(1)
    for _ in range(100):
        matrix = random_similarity(rng)
        points = rng.uniform(-2000, 2000, (68, 2))
        back = transform_points(transform_points(points, matrix), invert_matrix(matrix))
        assert np.abs(back - points).max() < 1e-6


@pytest.mark.parametrize("coverage", COVERAGES)
@pytest.mark.parametrize("size", SIZES)
def test_round_trip_of_real_alignments(actors, astronaut, size, coverage):
    for rgb, points in [(frame.rgb, points) for frame, points in actors] + [astronaut]:
        aligned = align_face(rgb, points, size, coverage)
        assert isinstance(aligned, AlignedFace) and aligned.size == size
        assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.uint8
        assert aligned.matrix.shape == (2, 3) and aligned.points68.dtype == np.float32
        np.testing.assert_allclose(aligned.points68, transform_points(points, aligned.matrix),
                                   atol=1e-3)
        back = transform_points(aligned.points68, aligned.inverse)
        assert np.abs(back - points).max() < 0.01  # the bar is 0.5 px; float32 costs ~1e-4
        np.testing.assert_allclose(aligned.inverse @ np.vstack([aligned.matrix, (0, 0, 1)]),
                                   np.eye(3)[:2], atol=1e-9)


@pytest.mark.parametrize("coverage", COVERAGES)
@pytest.mark.parametrize("size", SIZES)
def test_crop_pixels_sit_where_the_matrix_says(size, coverage):
    # blobs at sub-pixel places in a frame land in the crop at matrix @ place (measured: within
    # 0.01 crop pixels): the pixel-centre convention holds through bicubic enlarging, bilinear
    # sampling and the INTER_AREA shrink alike
    rng = np.random.default_rng(size)
    turn = rng.uniform(-0.5, 0.5)  # radians; a 300-px face in a 1000 x 1000 frame
    placement = 300 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    face = (TEMPLATE - 0.5) @ placement.T + (500.3, 560.7)
    matrix = align_matrix(face, size, coverage)
    zoom = np.sqrt(np.linalg.det(matrix[:, :2]))  # crop pixels per frame pixel
    expected = size * np.array([[0.3, 0.3], [0.7, 0.3], [0.3, 0.7], [0.7, 0.7]]) \
        + rng.uniform(-0.5, 0.5, (4, 2))
    sigma = max(3.0, 2.5 / zoom)  # frame pixels; 2.5 crop pixels at least: a blob, not a dot
    rows, columns = np.mgrid[0:1000, 0:1000]
    frame = np.zeros((1000, 1000), np.float64)
    for x, y in transform_points(expected, invert_matrix(matrix)):
        assert 4 * sigma < min(x, y, 999 - x, 999 - y)  # whole blobs
        frame += np.exp(-((columns - x) ** 2 + (rows - y) ** 2) / (2 * sigma ** 2))
    rgb = np.repeat(np.rint(255 * frame)[..., None], 3, axis=2).astype(np.uint8)
    crop = align_face(rgb, face, size, coverage).image[..., 0].astype(np.float64)
    reach = int(np.ceil(3.5 * sigma * zoom))
    for x, y in expected:
        x0, y0 = round(x) - reach, round(y) - reach
        ys, xs = np.mgrid[y0:y0 + 2 * reach + 1, x0:x0 + 2 * reach + 1]
        window = crop[y0:y0 + 2 * reach + 1, x0:x0 + 2 * reach + 1]
        found = np.array([(window * xs).sum(), (window * ys).sum()]) / window.sum()
        assert np.linalg.norm(found - (x, y)) < 0.05


@pytest.mark.parametrize("size", (256, 512, 1024))
def test_picture_round_trip_keeps_the_face(big_face, size):
    # frame -> crop -> frame with a full mask, over the face's inside: 0.95, 0.31 and 0.43
    # grey levels apart on average (99th percentile 9, 3, 4) for 256, 512 and 1024 px crops
    # of this 250-px face
    import cv2

    frame, points = big_face
    aligned = align_face(frame.rgb, points, size, "face")
    back = paste_face(np.zeros_like(frame.rgb), aligned.image, aligned.matrix)
    inside = cv2.erode((frame.face_mask > 200).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    error = np.abs(back.astype(int) - frame.rgb.astype(int))[inside]
    assert inside.sum() > 30000
    assert error.mean() < 1.3 and np.percentile(error, 99) < 12


def test_paste_changes_only_what_the_mask_reaches(big_face):
    frame, points = big_face
    aligned = align_face(frame.rgb, points, 256, "whole-face")
    mask = np.zeros((256, 256), np.uint8)
    mask[100:150, 80:180] = 255
    grey = np.full_like(aligned.image, 128)
    pasted = paste_face(frame.rgb, grey, aligned.matrix, mask)
    assert pasted is not frame.rgb and pasted.dtype == np.uint8
    changed = np.any(pasted != frame.rgb, axis=2)
    corners = transform_points([[79, 99], [180, 99], [79, 150], [180, 150]], aligned.inverse)
    rows, columns = np.nonzero(changed)
    assert corners[:, 0].min() - 1 <= columns.min() and columns.max() <= corners[:, 0].max() + 1
    assert corners[:, 1].min() - 1 <= rows.min() and rows.max() <= corners[:, 1].max() + 1
    middle = transform_points([[130, 125]], aligned.inverse)[0].round().astype(int)
    assert (pasted[middle[1], middle[0]] == 128).all()
    untouched = paste_face(frame.rgb, grey, aligned.matrix, np.zeros((256, 256), np.float32))
    np.testing.assert_array_equal(untouched, frame.rgb)


def test_template_eyes_land_at_the_same_crop_places_for_every_face(actors, astronaut, predict):
    # the eyes of differently built faces land on the template's: their own points after the
    # fit (measured: 2.1 % of the crop at most; the fit weighs the nose as well, and eye
    # spacing varies), and dlib's points found again on the crops (2.2 %; dlib's own scatter
    # on synthetic faces is a few pixels)
    wanted = eye_centres(template_points(256, "whole-face"))
    faces = [(frame.rgb, points) for frame, points in actors] + [astronaut]
    for rgb, points in faces:
        aligned = align_face(rgb, points, 256, "whole-face")
        assert np.abs(eye_centres(aligned.points68) - wanted).max() < 0.03 * 256
        found = predict(aligned.image, upsample=1)
        assert found is not None
        assert np.abs(eye_centres(found) - wanted).max() < 0.035 * 256


def test_coverages_nest(actors, astronaut):
    # face within whole-face within head, in the frame: each crop's corners mapped back
    import cv2

    corners = [[-0.5, -0.5], [255.5, -0.5], [255.5, 255.5], [-0.5, 255.5]]
    for rgb, points in [(frame.rgb, points) for frame, points in actors[:2]] + [astronaut]:
        outlines = [transform_points(corners, align_face(rgb, points, 256, c).inverse)
                    for c in COVERAGES]
        areas = [abs(np.linalg.det(np.array([o[1] - o[0], o[3] - o[0]]))) for o in outlines]
        assert areas[0] < areas[1] < areas[2]
        for inner, outer in itertools.pairwise(outlines):
            polygon = outer.astype(np.float32).reshape(-1, 1, 2)
            assert all(cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0
                       for x, y in inner)


def test_astronaut_face_crop_frames_her_face(astronaut):
    rgb, points = astronaut
    aligned = align_face(rgb, points, 256, "face")
    # the pupils, read off the photo: (203, 101) and (246, 104); in the crop they sit at the
    # template's eyes, level, in the upper half
    pupils = transform_points([[203, 101], [246, 104]], aligned.matrix)
    assert np.abs(pupils - eye_centres(template_points(256, "face"))).max() < 6
    assert abs(pupils[0, 1] - pupils[1, 1]) < 3 and pupils[:, 1].max() < 128
    # brows to chin fill the crop: the chin point inside, near the bottom
    assert 200 < aligned.points68[8, 1] < 250


def test_turning_head_keeps_a_steady_crop(turning):
    # 2.5-degree steps from -40 to 40 degrees of yaw: the crop neither tilts nor jumps
    wanted = eye_centres(template_points(256, "face"))
    for points in turning:
        matrices = np.array([align_matrix(p, 256, "face") for p in points])
        eyes = np.array([eye_centres(transform_points(p, m))
                         for p, m in zip(points, matrices, strict=True)])
        tilt = np.degrees(np.arctan2(*(eyes[:, 1] - eyes[:, 0]).T[::-1]))
        assert np.abs(tilt).max() < 1.0  # measured 0.1 (one fit on eyes + nose: 13)
        # the eyes stay on the template's height; across, the eye line foreshortens (measured
        # up to 3.7 px and 24.5 px off)
        assert np.abs(eyes[..., 1] - wanted[:, 1]).max() < 0.025 * 256
        assert np.abs(eyes[..., 0] - wanted[:, 0]).max() < 0.12 * 256
        scale = np.sqrt(np.linalg.det(matrices[:, :, :2]))
        growth = scale / scale[len(scale) // 2]
        assert 0.97 < growth.min() and growth.max() < 1.12  # measured 1.00 to 1.09
        steps = np.diff(eyes, axis=0)
        assert np.abs(steps).max() < 3.0  # px per 2.5 degrees; measured 2.1
        assert np.abs(np.diff(steps, axis=0)).max() < 0.5  # no jumps; measured 0.14


@pytest.mark.parametrize("size", [63, 1025, 0, 256.5, True, "256"])
def test_invalid_sizes_are_user_errors(size):
    with pytest.raises(DoppelError, match="64"):
        align_matrix(TEMPLATE * 100, size)


def test_unknown_coverage_is_a_user_error():
    with pytest.raises(DoppelError, match="whole-face"):
        align_matrix(TEMPLATE * 100, 256, "torso")


def test_bad_landmarks_are_bugs():
    with pytest.raises(ValueError):
        align_matrix(np.zeros((5, 2)), 256)
    with pytest.raises(ValueError):
        align_face(np.zeros((10, 10), np.uint8), TEMPLATE * 100, 256)


@pytest.mark.parametrize("wide, narrow", [("whole-face", "face"), ("head", "whole-face"),
                                          ("head", "face")])
def test_a_wide_crop_reframed_is_the_narrow_crop_of_the_frame(actors, astronaut, wide, narrow):
    for rgb, points in [(frame.rgb, points) for frame, points in actors[:2]] + [astronaut]:
        kept = align_face(rgb, points, 256, wide)
        direct = align_face(rgb, points, 96, narrow)
        to_narrow = reframe_matrix(256, wide, 96, narrow)
        assert np.allclose(transform_points(kept.points68, to_narrow), direct.points68,
                           atol=1e-6)
        reframed = warp_crop(kept.image, to_narrow, 96)
        assert reframed.shape == direct.image.shape
        # two resamplings against one: a grey level or two apart, no shift
        assert np.abs(reframed.astype(float) - direct.image).mean() < 2.5


def test_a_narrow_crop_cannot_be_reframed_wider():
    assert covers("head", "face") and covers("whole-face", "face") and covers("face", "face")
    assert not covers("face", "whole-face") and not covers("whole-face", "head")
    with pytest.raises(DoppelError, match="--coverage whole-face"):
        reframe_matrix(256, "face", 64, "whole-face")
