"""The invisible watermark: imperceptible, robust to the attacks in the issue, no false alarms."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from doppel.media import VideoWriter, WriterConfig, read_frames
from doppel.provenance import FALSE_POSITIVE_BOUND, Watermarker, detect, detect_frames, luma
from doppel.provenance.watermark import CLIP_FALSE_POSITIVE_BOUND
from doppel.types import Frame

PAYLOAD = 0xD0BB_E100_1234_ABCD


def resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real photograph (public domain) at 720p."""
    return resized(data.astronaut(), 1280, 720)


@pytest.fixture(scope="module")
def marked(picture) -> np.ndarray:
    return Watermarker(PAYLOAD).mark(picture)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def found(rgb: np.ndarray) -> int | None:
    return detect(luma(rgb)).payload


def test_imperceptible_at_720p(picture, marked):
    assert peak_signal_noise_ratio(picture, marked) >= 40.0
    assert structural_similarity(picture, marked, channel_axis=2) >= 0.98


def test_payload_and_confidence_on_a_pristine_mark(marked):
    detection = detect(luma(marked))
    assert detection.payload == PAYLOAD
    assert detection.confidence > 0.9 and detection.bit_errors == 0


@pytest.mark.parametrize("quality", [50, 75, 95])
def test_survives_jpeg(marked, quality):
    assert found(jpeg(marked, quality)) == PAYLOAD


def test_survives_resize_to_half(marked):
    assert found(resized(marked, 640, 360)) == PAYLOAD


def test_survives_ten_percent_crop(marked):
    height, width = marked.shape[:2]
    top, left = int(0.05 * height) + 3, int(0.05 * width) + 5  # off the block grid
    cropped = marked[top: top + int(0.9 * height), left: left + int(0.9 * width)]
    detection = detect(luma(cropped))
    assert detection.payload == PAYLOAD and detection.offset != (0, 0)


@pytest.mark.parametrize("gain, shift", [(1.0, 25), (1.0, -25), (1.1, 0), (0.9, 0)])
def test_survives_brightness_and_contrast(marked, gain, shift):
    changed = np.clip((marked.astype(np.float32) - 128) * gain + 128 + shift, 0, 255)
    assert found(changed.astype(np.uint8)) == PAYLOAD


@pytest.mark.slow
@pytest.mark.parametrize("crf", [18, 28])
def test_survives_h264_over_the_frames_of_a_moving_clip(tmp_path, picture, crf):
    marker = Watermarker(PAYLOAD)
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 25, config=WriterConfig(crf=crf, preset="veryfast")) as writer:
        for index in range(20):
            moving = np.roll(picture, 3 * index, axis=1)  # a pan: x264 drags the mark along
            writer.write(Frame(index, Fraction(index, 25), marker.mark(moving)))
    frames = [frame.rgb for frame in read_frames(path)]
    assert detect_frames(frames).payload == PAYLOAD
    # a piece cut from the middle, starting on a predicted frame, keeps it too
    assert detect_frames(frames[5:]).payload == PAYLOAD


def test_ordered_statistics_decoding_corrects_errors_beyond_the_weakest_bits():
    from doppel.provenance.watermark import _code_bits, _hard_decode, _osd_decode

    code = _code_bits(PAYLOAD)
    decoded, beyond_chase = 0, 0
    for seed in range(40):  # a Gaussian channel with ~2 % wrong bits
        soft = code + np.random.default_rng(seed).normal(0, 0.5, code.size)
        ranks = np.argsort(np.argsort(np.abs(soft)))  # 0 = least reliable
        wrong = ranks[(soft > 0) != (code > 0)]
        if len(wrong) and wrong.max() >= 14 and not list(_hard_decode(soft[None, :])):
            beyond_chase += 1  # out of reach of flipping the 14 weakest bits
            decoded += _osd_decode(soft) == (PAYLOAD, len(wrong))
    assert beyond_chase >= 5 and decoded >= 0.7 * beyond_chase  # measured: 6 of 8
    rng = np.random.default_rng(1)
    assert all(_osd_decode(rng.normal(size=code.size)) is None for _ in range(20))


def test_no_mark_found_in_unmarked_pictures(picture):
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    ramp = np.broadcast_to(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None],
                           (360, 640, 3)).copy()
    others = [picture, noise, ramp, resized(data.chelsea(), 640, 360), jpeg(picture, 60)]
    for rgb in others:
        detection = detect(luma(rgb))
        assert detection.payload is None and detection.confidence == 0.0


def test_false_positive_bound_counts_every_hypothesis():
    assert FALSE_POSITIVE_BOUND < CLIP_FALSE_POSITIVE_BOUND < 1e-6


def test_payload_must_fit_64_bits():
    with pytest.raises(ValueError):
        Watermarker(2**64)


def test_video_frames_kept_as_stored_are_marked_on_their_luma_as_pictures_are(picture):
    # mark_video_frame adds the mark to the stored luma plane instead of to R, G and B: the
    # picture that decodes from it carries the same mark, and nothing else changes.
    import av

    from doppel.media._video import RgbConverter
    from doppel.provenance import LabelConfig, mark_video_frame
    from doppel.types import Yuv420

    converter = RgbConverter()
    planes = converter.to_yuv(picture).to_ndarray()

    def decoded(planes: np.ndarray) -> np.ndarray:
        return converter.to_rgb(av.VideoFrame.from_ndarray(planes, format="yuv420p"))

    frame = Frame(0, None, decoded(planes), Yuv420(planes.copy(), 6))
    marked = mark_video_frame(frame, [], Watermarker(PAYLOAD), LabelConfig(visible_label=False))
    out = decoded(marked.yuv.planes)
    assert found(out) == PAYLOAD
    height = picture.shape[0]
    assert np.array_equal(marked.yuv.planes[height:], planes[height:])  # chroma untouched
    by_rgb = luma(Watermarker(PAYLOAD).mark(frame.rgb)) - luma(frame.rgb)
    by_luma = luma(out) - luma(frame.rgb)
    gain = float((by_luma * by_rgb).sum() / (by_rgb * by_rgb).sum())  # least squares
    assert 0.97 < gain < 1.03
    assert np.abs(by_luma - by_rgb).mean() < 0.5
