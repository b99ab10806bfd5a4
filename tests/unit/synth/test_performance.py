"""Synthetic performances: determinism, blink and speech timing measured from the signals,
head speed and range limits, value ranges, and saving round trips."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy.signal import find_peaks

from doppel.errors import DoppelError
from doppel.synth.performance import (
    MAX_YAW_SPEED,
    SIGNALS,
    Performance,
    generate_performance,
    neutral_performance,
)

FPS = 30.0
EXPRESSIONS = ("jaw_open", "mouth_wide", "mouth_round", "smile", "blink_left", "blink_right",
               "brow_raise", "speech")


@pytest.fixture(scope="module")
def minute() -> Performance:
    return generate_performance(60.0, FPS, seed=7)


def crossings(signal: npt.NDArray[np.float32], fps: float,
              threshold: float = 0.5) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Times (s) the signal rises through and falls back through `threshold`, interpolated
    between frames; only complete events."""
    x = signal.astype(np.float64)
    above = x >= threshold
    step = np.diff(above.astype(int))
    up, down = np.flatnonzero(step == 1), np.flatnonzero(step == -1)
    rises = (up + (threshold - x[up]) / (x[up + 1] - x[up])) / fps
    falls = (down + (x[down] - threshold) / (x[down] - x[down + 1])) / fps
    if above[0]:
        falls = falls[1:]
    count = min(rises.size, falls.size)
    return rises[:count], falls[:count]


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) frame ranges where `mask` holds."""
    step = np.diff(np.concatenate(([0], mask.astype(int), [0])))
    return list(zip(np.flatnonzero(step == 1), np.flatnonzero(step == -1)))


def inner_phrases(performance: Performance) -> list[tuple[int, int]]:
    """Phrases (runs of non-zero speech) not cut by the clip's ends."""
    return [(a, b) for a, b in runs(performance.speech > 0) if a > 0 and b < len(performance)]


def test_same_seed_same_performance_other_seed_differs():
    first, again = generate_performance(8.0, FPS, 3), generate_performance(8.0, FPS, 3)
    other = generate_performance(8.0, FPS, 4)
    for name in SIGNALS:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert all(not np.array_equal(getattr(first, name), getattr(other, name))
               for name in ("yaw", "pitch", "jaw_open", "blink_left", "tx"))


def test_shape_dtype_and_metadata(minute):
    assert len(minute) == 1800 and minute.duration == pytest.approx(60.0)
    assert (minute.fps, minute.seed) == (FPS, 7)
    for name in SIGNALS:
        signal = getattr(minute, name)
        assert signal.dtype == np.float32 and signal.shape == (1800,), name
        assert np.isfinite(signal).all() and not signal.flags.writeable, name
    assert len(generate_performance(2.5, 29.97, 0)) == round(2.5 * 29.97)


def test_values_stay_in_their_ranges(minute):
    for name in EXPRESSIONS:
        signal = getattr(minute, name)
        assert signal.min() >= 0.0 and signal.max() <= 1.0, name
        assert signal.max() > 0.3, f"{name} never moves"
    assert np.abs(minute.tx).max() <= 0.08 and np.abs(minute.ty).max() <= 0.08
    assert 0.9 <= minute.scale.min() and minute.scale.max() <= 1.1
    assert np.ptp(minute.scale) > 0.02, "the head size does not drift"
    assert np.abs(minute.pitch).max() <= 25.0 and np.abs(minute.roll).max() <= 8.0


def test_blinks_come_every_two_to_six_seconds(minute):
    for eye in (minute.blink_left, minute.blink_right):
        closes, _ = crossings(eye, FPS)
        assert closes.size >= 60 / 6 - 1
        intervals = np.diff(closes)
        assert intervals.min() >= 2.0 and intervals.max() <= 6.0, intervals
        assert np.std(intervals) > 0.3, "blinks are periodic"


def test_blinks_last_100_to_200_ms_closing_faster_than_opening(minute):
    for eye in (minute.blink_left, minute.blink_right):
        closes, opens = crossings(eye, FPS)
        durations = opens - closes
        assert durations.min() >= 0.100 and durations.max() <= 0.200, durations
    fine = generate_performance(30.0, 480.0, seed=7)  # sampled finely enough to see the ramps
    closing = np.count_nonzero(np.diff(fine.blink_left) > 1e-4)
    opening = np.count_nonzero(np.diff(fine.blink_left) < -1e-4)
    assert 1.2 * closing < opening


def test_both_eyes_blink_together(minute):
    left, _ = crossings(minute.blink_left, FPS)
    right, _ = crossings(minute.blink_right, FPS)
    assert left.size == right.size and np.abs(left - right).max() < 0.03


def test_speech_comes_in_phrases_separated_by_pauses(minute):
    phrases = inner_phrases(minute)
    assert len(phrases) >= 10
    lengths = np.array([b - a for a, b in phrases]) / FPS
    assert lengths.min() >= 1.0 - 1.5 / FPS and lengths.max() <= 4.0, lengths
    pauses = np.array([b - a for a, b in runs(minute.speech == 0)[1:-1]]) / FPS
    assert pauses.min() >= 0.3 and pauses.max() <= 1.5 + 1.5 / FPS, pauses
    for a, b in runs(minute.speech == 0):
        assert minute.jaw_open[a:b].max() == 0.0, "the mouth moves in a pause"


def test_syllables_come_at_three_to_six_hertz(minute):
    for a, b in inner_phrases(minute):
        peaks, _ = find_peaks(minute.jaw_open[a:b], prominence=0.1)
        assert 3.0 <= peaks.size / ((b - a) / FPS) <= 6.0


def test_syllable_lengths_vary_within_a_phrase():
    fine = generate_performance(30.0, 240.0, seed=7)  # fine enough to time syllables to 4 ms
    variations = []
    for a, b in inner_phrases(fine):
        # The jaw comes back to its floor between syllables: those dips are their boundaries.
        dips, _ = find_peaks(-fine.jaw_open[a:b], prominence=0.1)
        lengths = np.diff(dips)
        if lengths.size >= 4:
            variations.append(np.std(lengths) / np.mean(lengths))
    assert len(variations) >= 5 and np.mean(variations) > 0.08, "syllables are periodic"


def test_voice_follows_the_jaw_and_lips_take_vowel_shapes(minute):
    assert np.corrcoef(minute.speech, minute.jaw_open)[0, 1] > 0.95
    # Spread and rounded vowels exclude each other: one syllable has one vowel.
    assert np.max(np.minimum(minute.mouth_wide, minute.mouth_round)) < 0.2
    assert minute.mouth_wide.max() > 0.7 and minute.mouth_round.max() > 0.7


def test_silent_actor_keeps_its_blinks_and_head():
    talking = generate_performance(20.0, FPS, 5)
    silent = generate_performance(20.0, FPS, 5, talking=False)
    for name in ("jaw_open", "mouth_wide", "mouth_round", "speech"):
        assert not getattr(silent, name).any(), name
    np.testing.assert_array_equal(silent.blink_left, talking.blink_left)
    np.testing.assert_array_equal(silent.smile, talking.smile)
    assert np.abs(silent.yaw - talking.yaw).max() == 0.0


@pytest.mark.parametrize("max_yaw", [20.0, 45.0, 90.0])
@pytest.mark.parametrize("fps", [24.0, 60.0])
def test_yaw_stays_within_limits(max_yaw, fps):
    for seed in range(4):
        yaw = generate_performance(60.0, fps, seed, max_yaw=max_yaw).yaw.astype(np.float64)
        assert np.abs(np.diff(yaw)).max() * fps <= MAX_YAW_SPEED
        assert np.abs(yaw).max() <= max_yaw


def test_head_turns_reach_past_thirty_degrees_and_come_back(minute):
    turned = np.abs(minute.yaw) > 30.0
    assert 3 <= len(runs(turned)) <= 15
    assert np.mean(np.abs(minute.yaw) < 15.0) > 0.4, "the actor rarely faces the camera"
    assert (minute.yaw > 30).any() and (minute.yaw < -30).any()
    reached = sum(np.abs(generate_performance(10.0, FPS, s).yaw).max() > 30 for s in range(10))
    assert reached >= 8


def test_head_moves_smoothly(minute):
    speeds = {name: np.abs(np.diff(getattr(minute, name))).max() * FPS
              for name in ("pitch", "roll", "tx", "ty", "scale")}
    assert speeds["pitch"] < 120 and speeds["roll"] < 30, speeds
    assert speeds["tx"] < 0.1 and speeds["ty"] < 0.1 and speeds["scale"] < 0.1, speeds
    assert np.ptp(minute.pitch) > 8 and np.ptp(minute.roll) > 3


def test_frame_and_slice(minute):
    values = minute.frame(100)
    assert set(values) == set(SIGNALS) and values["yaw"] == float(minute.yaw[100])
    assert minute.frame(-1)["speech"] == float(minute.speech[-1])
    with pytest.raises(IndexError):
        minute.frame(len(minute))
    part = minute.slice(100, 160)
    assert len(part) == 60 and (part.fps, part.seed) == (minute.fps, minute.seed)
    np.testing.assert_array_equal(part.jaw_open, minute.jaw_open[100:160])


def test_round_trip_through_npz(minute, tmp_path):
    np.savez(tmp_path / "performance.npz", **minute.to_arrays())
    with np.load(tmp_path / "performance.npz") as arrays:
        loaded = Performance.from_arrays(arrays)
    assert (loaded.fps, loaded.seed, len(loaded)) == (minute.fps, minute.seed, len(minute))
    for name in SIGNALS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(minute, name))
    arrays = minute.to_arrays()
    del arrays["speech"]
    with pytest.raises(DoppelError, match="speech"):
        Performance.from_arrays(arrays)


def test_neutral_performance_is_still_and_frontal():
    still = neutral_performance(12, 25.0)
    assert len(still) == 12 and still.fps == 25.0
    assert all(value == (1.0 if name == "scale" else 0.0)
               for name, value in still.frame(5).items())


@pytest.mark.parametrize("arguments", [
    dict(seconds=10.0, fps=0.0, seed=1),
    dict(seconds=0.0, fps=30.0, seed=1),
    dict(seconds=10.0, fps=30.0, seed=1, max_yaw=120.0),
    dict(seconds=10.0, fps=30.0, seed=-1),
])
def test_bad_arguments_raise_doppel_error(arguments):
    with pytest.raises(DoppelError):
        generate_performance(**arguments)


def test_gaze_fixates_between_quick_saccades(minute):
    for name, limit in (("gaze_x", 20.0), ("gaze_y", 12.0)):
        signal = getattr(minute, name)
        assert np.abs(signal).max() <= limit, name
        assert np.ptp(signal) > 8.0, f"{name} never moves"
    steps = np.hypot(np.diff(minute.gaze_x), np.diff(minute.gaze_y))
    # Most frames the eyes hold still; saccades are big steps between them.
    assert (steps < 0.5).mean() > 0.7
    saccades = steps > 2.0
    starts = np.flatnonzero(saccades[1:] & ~saccades[:-1])
    assert 60.0 / 2.5 <= len(starts) <= 60.0 / 0.3


def test_adding_gaze_left_the_other_signals_alone():
    performance = generate_performance(4.0, FPS, seed=7)
    # Values from before the gaze's random stream existed.
    assert performance.yaw[100] == pytest.approx(-25.455462, abs=1e-5)
    assert performance.jaw_open.sum() == pytest.approx(23.100765, abs=1e-4)
    assert np.ptp(performance.gaze_x) > 0.0
    silent = generate_performance(4.0, FPS, seed=7, talking=False)
    assert np.array_equal(performance.gaze_x, silent.gaze_x)
