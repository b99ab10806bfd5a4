"""What a synthetic actor does, frame by frame: head pose, blinks, speech mouth shapes and
expressions, generated to look natural (events at random intervals, filtered noise) and
deterministic for a seed.

Conventions (all signals are float32, one value per video frame, sampled at t = i / fps):
    yaw    degrees; > 0 the actor turns to their left, i.e. the nose points to our right.
    pitch  degrees; > 0 the actor looks up.
    roll   degrees; > 0 the head tilts towards the actor's left shoulder (clockwise on screen).
    tx, ty head translation as a fraction of the frame width / height; > 0 is right / down
           on screen (image axes), within +/- 0.08.
    scale  relative head size, 1.0 nominal, within [0.9, 1.1].
    jaw_open, mouth_wide ("ee" spread), mouth_round ("oo" pucker), smile, brow_raise,
    blink_left, blink_right (1 = closed; the actor's own left/right) and speech (the loudness
    envelope of the voice) are in [0, 1].
    gaze_x, gaze_y  degrees the eyes turn in the head; > 0 towards the actor's left (our
           right) / up, like yaw and pitch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from doppel.errors import DoppelError

SIGNALS = (
    "yaw", "pitch", "roll", "tx", "ty", "scale",
    "jaw_open", "mouth_wide", "mouth_round", "smile", "blink_left", "blink_right",
    "brow_raise", "speech", "gaze_x", "gaze_y",
)
MAX_YAW_SPEED = 60.0  # degrees per second, never exceeded between two frames
MAX_TRANSLATION = 0.08  # fraction of the frame size
MAX_SCALE_CHANGE = 0.1

# Blink timing (seconds). A blink's duration is how long the eye is more than half closed:
# that is what a viewer (and the tests) can measure, and at 30 fps it keeps every blink on
# at least three frames. Intervals and widths stay a little inside 2-6 s and 100-200 ms so
# that the asymmetric eye's delay and frame sampling keep measurements inside them.
_BLINK_GAP = (2.1, 5.9)
_BLINK_WIDTH = (0.12, 0.18)
_ASYMMETRIC_BLINK_CHANCE = 0.12

# Speech timing (seconds). Syllable lengths are clipped to 1/6-1/3 s so that every phrase
# has a mean syllable rate in 3-6 Hz however the jitter falls.
_PHRASE_TARGET = (1.0, 3.65)  # + at most one syllable (1/3 s): phrases last 1-4 s
_PAUSE = (0.35, 1.45)
_SYLLABLE_RATE = (3.5, 5.5)  # Hz, drawn per phrase
_SYLLABLE_JITTER = 0.25
_PHRASE_EDGE = 0.06  # voice onset/offset ramp

# Vowel-like mouth shapes: (jaw_open, mouth_wide, mouth_round) at full stress.
_VOWELS = np.array([
    (1.00, 0.25, 0.00),  # "a"
    (0.70, 0.60, 0.00),  # "e"
    (0.45, 0.95, 0.00),  # "i"
    (0.75, 0.00, 0.65),  # "o"
    (0.50, 0.00, 1.00),  # "u"
    (0.55, 0.15, 0.10),  # schwa
])
_STRESS = (0.55, 1.0)  # keeps every syllable's jaw peak >= 0.25, so each is a visible peak
_JAW_FLOOR = 0.05  # the jaw never quite closes inside a phrase
_SPEECH_FLOOR = 0.12  # consonants between syllables are quieter, not silent

# Head motion. Drift = filtered noise, soft-limited; turns are deliberate looks aside.
_YAW_DRIFT = (5.5, 15.0)  # (standard deviation, limit), degrees
_PITCH_DRIFT = (3.0, 8.0)
_ROLL_DRIFT = (2.0, 5.0)
_TRANSLATION_DRIFT = 0.015
_SCALE_DRIFT = 0.04
_TURN_GAP = (4.0, 8.0)  # between turn starts
_TURN_REACH = (0.7, 0.98)  # of max_yaw
_TURN_HOLD = (0.4, 1.5)
_TURN_SPEED = (30.0, 46.0)  # degrees/s planned; drift on top stays under MAX_YAW_SPEED
_DRIFT_DURING_TURN = 0.3  # a turned head still moves a little
_CONTROL_RATE = 20.0  # Hz at which drift noise is drawn; far above its slowest frequencies

# Gaze: fixations of 0.3-2.5 s joined by saccades of ~40 ms, mostly near the camera (the
# person they talk to); the eyes lead a head turn by looking towards where it goes.
_FIXATION = (0.3, 2.5)
_SACCADE = 0.04
_GAZE_SPREAD = (7.0, 4.0)  # standard deviation, degrees (x, y)
_GAZE_LIMIT = (20.0, 12.0)
_GAZE_LEAD = 0.25  # of the head's yaw change over the next half second


@dataclass(frozen=True, eq=False)
class Performance:
    """One clip of a synthetic actor's performance; see the module docstring for units.

    Every signal is float32, shape (N,), read-only; `fps` is the video frame rate and `seed`
    the seed it was generated from (0 for hand-made ones).
    """

    yaw: npt.NDArray[np.float32]
    pitch: npt.NDArray[np.float32]
    roll: npt.NDArray[np.float32]
    tx: npt.NDArray[np.float32]
    ty: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    jaw_open: npt.NDArray[np.float32]
    mouth_wide: npt.NDArray[np.float32]
    mouth_round: npt.NDArray[np.float32]
    smile: npt.NDArray[np.float32]
    blink_left: npt.NDArray[np.float32]
    blink_right: npt.NDArray[np.float32]
    brow_raise: npt.NDArray[np.float32]
    speech: npt.NDArray[np.float32]
    gaze_x: npt.NDArray[np.float32]
    gaze_y: npt.NDArray[np.float32]
    fps: float
    seed: int

    def __post_init__(self) -> None:
        lengths = set()
        for name in SIGNALS:
            signal = np.array(getattr(self, name), dtype=np.float32)
            if signal.ndim != 1:
                raise ValueError(f"{name} must be one-dimensional, got shape {signal.shape}")
            signal.setflags(write=False)
            object.__setattr__(self, name, signal)
            lengths.add(signal.shape[0])
        if len(lengths) > 1:
            raise ValueError(f"signals differ in length: {sorted(lengths)}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "seed", int(self.seed))

    def __len__(self) -> int:
        return int(self.yaw.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered by the frames."""
        return len(self) / self.fps

    def frame(self, index: int) -> dict[str, float]:
        """Every signal's value at frame `index` (negative counts from the end)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} outside a performance of {len(self)} frames")
        return {name: float(getattr(self, name)[index]) for name in SIGNALS}

    def slice(self, start: int, stop: int) -> Performance:
        """Frames [start, stop), with Python slice semantics; fps and seed are kept."""
        return replace(self, **{name: getattr(self, name)[start:stop] for name in SIGNALS})

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every field as an array, for `np.savez`: signals float32 (N,), fps and seed 0-d."""
        arrays: dict[str, npt.NDArray[np.generic]] = {
            name: getattr(self, name) for name in SIGNALS
        }
        arrays["fps"] = np.array(self.fps, dtype=np.float64)
        arrays["seed"] = np.array(self.seed, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.ArrayLike]) -> Performance:
        """The inverse of `to_arrays`; accepts an `np.load`ed npz file."""
        missing = [name for name in (*SIGNALS, "fps", "seed") if name not in arrays]
        if missing:
            raise DoppelError(
                f"performance arrays lack {', '.join(missing)}; save them with "
                "Performance.to_arrays()"
            )
        try:
            return cls(
                **{name: np.asarray(arrays[name]) for name in SIGNALS},
                fps=float(np.asarray(arrays["fps"])),
                seed=int(np.asarray(arrays["seed"])),
            )
        except ValueError as error:
            raise DoppelError(f"performance arrays are inconsistent ({error}); "
                              "save them with Performance.to_arrays()") from error


def neutral_performance(frames: int, fps: float, seed: int = 0) -> Performance:
    """A frontal, expressionless, still actor for `frames` frames (scale 1, all else 0)."""
    zeros = np.zeros(frames, dtype=np.float32)
    signals = {name: zeros for name in SIGNALS}
    signals["scale"] = np.ones(frames, dtype=np.float32)
    return Performance(**signals, fps=fps, seed=seed)


def generate_performance(
    seconds: float, fps: float, seed: int, *, max_yaw: float = 45.0, talking: bool = True
) -> Performance:
    """A natural-looking performance of `seconds` at `fps`, the same for the same arguments.

    Blinks come every 2-6 s; speech (when `talking`) in phrases of 1-4 s with syllables at
    3-6 Hz and pauses of 0.3-1.5 s; smiles and brow raises now and then; the head drifts
    and every 4-8 s turns towards up to `max_yaw` degrees, holds, and comes back, never
    faster than MAX_YAW_SPEED; the eyes fixate for 0.3-2.5 s between quick saccades. Each
    part has its own random stream, so switching `talking` off leaves blinks, gaze and head
    motion unchanged.
    """
    _check_arguments(seconds, fps, seed, max_yaw)
    times = np.arange(round(seconds * fps)) / fps
    # A spawned child's stream depends only on its position, so adding the gaze's stream
    # left every other signal as it was.
    blink_rng, speech_rng, face_rng, head_rng, gaze_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(5)
    )
    blink_left, blink_right = _generate_blinks(times, blink_rng)
    phrases = _plan_phrases(seconds, speech_rng) if talking else []
    mouth = _render_mouth(times, phrases)
    phrase_starts = np.array([phrase[0].start for phrase in phrases])
    smile = _render(times, _plan_smiles(seconds, face_rng))
    brow_raise = _render(times, _plan_brow_raises(seconds, phrase_starts, face_rng))
    head = _generate_head(times, fps, max_yaw, phrase_starts, head_rng)
    gaze_x, gaze_y = _generate_gaze(times, head["yaw"], fps, gaze_rng)
    return Performance(
        **head, **mouth, smile=smile, blink_left=blink_left, blink_right=blink_right,
        brow_raise=brow_raise, gaze_x=gaze_x, gaze_y=gaze_y, fps=fps, seed=seed,
    )


def _check_arguments(seconds: float, fps: float, seed: int, max_yaw: float) -> None:
    if seed < 0:
        raise DoppelError(f"seed must be a non-negative integer, got {seed}")
    if not fps > 0:
        raise DoppelError(f"fps must be positive, got {fps}")
    if not round(seconds * fps) >= 1:
        raise DoppelError(f"a performance needs at least one frame; {seconds} s at {fps} fps "
                          "has none, ask for a longer one")
    if not 0 < max_yaw <= 90:
        raise DoppelError(f"max_yaw must be in (0, 90] degrees, got {max_yaw}")


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pulses:
    """Disjoint events, sorted by start, each a rise - hold - fall envelope.

    start, end: seconds, float64 (K,). rise, fall: the shares of each event's length spent
    rising and falling, float64 (K,), rise + fall <= 1. amplitude: the envelope's top, (K,).
    """

    start: npt.NDArray[np.float64]
    end: npt.NDArray[np.float64]
    rise: npt.NDArray[np.float64]
    fall: npt.NDArray[np.float64]
    amplitude: npt.NDArray[np.float64]


# (start, end, rise, fall, amplitude), as in _Pulses.
_Row = tuple[float, float, float, float, float]


def _pulses(rows: list[_Row]) -> _Pulses:
    """Pulses from (start, end, rise, fall, amplitude) rows, dropping any that overlaps the
    one before it (events planned by different causes may collide)."""
    kept: list[_Row] = []
    for row in sorted(rows):
        if not kept or row[0] >= kept[-1][1]:
            kept.append(row)
    columns = np.array(kept, dtype=np.float64).reshape(-1, 5).T
    return _Pulses(*columns)


def _ramp(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """0 -> 1 over x in [0, 1] with zero slope at both ends (a half cosine)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _render(times: npt.NDArray[np.float64], pulses: _Pulses) -> npt.NDArray[np.float64]:
    """At each of `times` (seconds, (N,)), the envelope of the pulse covering it, else 0;
    float64 (N,). Vectorised by looking each time up among the sorted starts."""
    if pulses.start.size == 0:
        return np.zeros_like(times)
    index = np.searchsorted(pulses.start, times, side="right") - 1
    at = np.maximum(index, 0)
    position = (times - pulses.start[at]) / (pulses.end[at] - pulses.start[at])
    inside = (index >= 0) & (position < 1.0)
    rising = _ramp(position / np.maximum(pulses.rise[at], 1e-9))
    falling = _ramp((1.0 - position) / np.maximum(pulses.fall[at], 1e-9))
    return np.where(inside, pulses.amplitude[at] * np.minimum(rising, falling), 0.0)


# ---- eyes ---------------------------------------------------------------------------------


def _generate_blinks(
    times: npt.NDArray[np.float64], rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Left and right eye closure (1 = closed) at `times` (seconds, (N,)); float64 (N,) each.

    Both eyes blink together; now and then one eye lags a little and closes less.
    """
    end = times[-1] + 1.0 if times.size else 0.0
    eyes: tuple[list[_Row], list[_Row]] = ([], [])
    start = rng.uniform(0.3, 3.5)
    while start < end:
        blink = _draw_blink(start, rng)
        lagging = blink
        if rng.random() < _ASYMMETRIC_BLINK_CHANCE:
            delay, depth = rng.uniform(0.01, 0.025), rng.uniform(0.88, 0.97)
            lagging = (blink[0] + delay, blink[1] + delay, blink[2], blink[3], depth)
        leading = int(rng.integers(2))
        eyes[leading].append(blink)
        eyes[1 - leading].append(lagging)
        start += _BLINK_GAP[0] + (_BLINK_GAP[1] - _BLINK_GAP[0]) * rng.beta(2.0, 3.0)
    left, right = eyes
    return _render(times, _pulses(left)), _render(times, _pulses(right))


def _draw_blink(start: float, rng: np.random.Generator) -> _Row:
    """One blink as a pulse row: a fast close, a short hold, a slower open."""
    width = rng.uniform(*_BLINK_WIDTH)  # time more than half closed
    close = rng.uniform(0.3, 0.45) * width
    opening = rng.uniform(1.3, 1.7) * close
    length = width + (close + opening) / 2  # the half-closed width plus the outer half-ramps
    return (start, start + length, close / length, opening / length, 1.0)


# ---- mouth --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Syllable:
    """One syllable: its span (seconds), its vowel (a row of _VOWELS), its stress (0-1
    scale of the vowel's shape) and its attack (the share of its span spent opening)."""

    start: float
    end: float
    vowel: int
    stress: float
    attack: float


def _plan_phrases(seconds: float, rng: np.random.Generator) -> list[list[_Syllable]]:
    """Phrases of 1-4 s of syllables at 3-6 Hz, separated by 0.3-1.5 s pauses."""
    phrases: list[list[_Syllable]] = []
    start = rng.uniform(0.2, 1.0)
    while start < seconds:
        phrase = _plan_syllables(start, rng)
        phrases.append(phrase)
        start = phrase[-1].end + rng.uniform(*_PAUSE)
    return phrases


def _plan_syllables(start: float, rng: np.random.Generator) -> list[_Syllable]:
    """Syllables from `start` until the phrase's drawn length is reached, at a rate drawn for
    the phrase and jittered per syllable (speech is not periodic)."""
    target = rng.uniform(*_PHRASE_TARGET)
    period = 1.0 / rng.uniform(*_SYLLABLE_RATE)
    syllables: list[_Syllable] = []
    at = start
    while at - start < target:
        jitter = rng.uniform(-_SYLLABLE_JITTER, _SYLLABLE_JITTER)
        length = float(np.clip(period * (1 + jitter), 1 / 6, 1 / 3))
        # The first syllable of a phrase tends to carry the stress.
        stress = rng.uniform(0.8, 1.0) if not syllables else rng.uniform(*_STRESS)
        vowel = int(rng.integers(len(_VOWELS)))
        syllables.append(_Syllable(at, at + length, vowel, stress, rng.uniform(0.25, 0.45)))
        at += length
    return syllables


def _render_mouth(
    times: npt.NDArray[np.float64], phrases: list[list[_Syllable]]
) -> dict[str, npt.NDArray[np.float64]]:
    """jaw_open, mouth_wide, mouth_round and speech at `times` (seconds, (N,)), float64 (N,).

    Each syllable opens the jaw once (a quick attack, a slower decay, one peak) to its
    vowel's opening times its stress, and spreads or rounds the lips for its vowel. The
    voice's loudness follows the jaw and is 0 outside phrases.
    """
    syllables = [syllable for phrase in phrases for syllable in phrase]
    jaw = _render(times, _pulses([
        (s.start, s.end, s.attack, 1 - s.attack, _VOWELS[s.vowel, 0] * s.stress)
        for s in syllables
    ]))
    # The lips move less with stress than the jaw does, and hold their shape longer.
    wide, round_ = (_render(times, _pulses([
        (s.start, s.end, 0.35, 0.45, _VOWELS[s.vowel, column] * (0.75 + 0.25 * s.stress))
        for s in syllables
    ])) for column in (1, 2))
    voiced = _render(times, _pulses([_voice_row(phrase) for phrase in phrases]))
    return {
        "jaw_open": _JAW_FLOOR * voiced + (1 - _JAW_FLOOR) * jaw,
        "mouth_wide": wide,
        "mouth_round": round_,
        "speech": _SPEECH_FLOOR * voiced + (1 - _SPEECH_FLOOR) * jaw,
    }


def _voice_row(phrase: list[_Syllable]) -> _Row:
    """The phrase's voicing as a pulse row: on from its first syllable to its last, with
    short ramps so the voice does not click on."""
    start, end = phrase[0].start, phrase[-1].end
    edge = _PHRASE_EDGE / (end - start)
    return (start, end, edge, edge, 1.0)


# ---- expressions ----------------------------------------------------------------------------


def _plan_smiles(seconds: float, rng: np.random.Generator) -> _Pulses:
    """A few slow smiles a minute; the clip may open mid-smile."""
    rows = []
    start = rng.uniform(-3.0, 15.0)
    while start < seconds:
        rise, hold, fall = rng.uniform(0.4, 1.0), rng.uniform(1.0, 4.0), rng.uniform(0.6, 1.5)
        length = rise + hold + fall
        rows.append((start, start + length, rise / length, fall / length,
                     rng.uniform(0.3, 0.9)))
        start += length + rng.uniform(8.0, 25.0)
    return _pulses(rows)


def _plan_brow_raises(
    seconds: float, phrase_starts: npt.NDArray[np.float64], rng: np.random.Generator
) -> _Pulses:
    """Brow raises now and then, and at about a quarter of the phrase starts (emphasis)."""
    starts = list(_poisson_times(seconds, 10.0, rng))
    starts += [t - 0.1 for t in phrase_starts if rng.random() < 0.25]
    rows = []
    for start in starts:
        rise, hold, fall = rng.uniform(0.12, 0.25), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.6)
        length = rise + hold + fall
        rows.append((start, start + length, rise / length, fall / length,
                     rng.uniform(0.3, 1.0)))
    return _pulses(rows)


def _poisson_times(seconds: float, mean_gap: float, rng: np.random.Generator) -> list[float]:
    """Random event times in [0, seconds) at one per `mean_gap` seconds on average."""
    times = []
    at = rng.exponential(mean_gap)
    while at < seconds:
        times.append(at)
        at += max(1.5, rng.exponential(mean_gap))
    return times


# ---- gaze ---------------------------------------------------------------------------------


def _generate_gaze(times: npt.NDArray[np.float64], yaw: npt.NDArray[np.float64], fps: float,
                   rng: np.random.Generator
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """gaze_x, gaze_y (degrees, float64 (N,)) at `times`: fixations joined by saccades, plus
    a lead into head turns."""
    start, targets = 0.0, []
    while start <= times[-1]:
        target = rng.normal(0.0, _GAZE_SPREAD)
        targets.append((start, *np.clip(target, np.negative(_GAZE_LIMIT), _GAZE_LIMIT)))
        start += rng.uniform(*_FIXATION)
    at = np.array([t for t, _, _ in targets])
    index = np.searchsorted(at, times, side="right") - 1
    previous = np.maximum(index - 1, 0)
    # Each saccade moves linearly from the previous fixation over _SACCADE seconds.
    progress = np.clip((times - at[index]) / _SACCADE, 0.0, 1.0)
    progress[index == 0] = 1.0
    gaze = np.array([(x, y) for _, x, y in targets])
    values = gaze[previous] + progress[:, None] * (gaze[index] - gaze[previous])
    ahead = np.minimum(np.arange(len(times)) + max(1, round(0.5 * fps)), len(times) - 1)
    lead = np.clip(_GAZE_LEAD * (yaw[ahead] - yaw), -10.0, 10.0)
    gaze_x = np.clip(values[:, 0] + lead, -_GAZE_LIMIT[0], _GAZE_LIMIT[0])
    return gaze_x, values[:, 1]


# ---- head ---------------------------------------------------------------------------------


def _generate_head(
    times: npt.NDArray[np.float64],
    fps: float,
    max_yaw: float,
    phrase_starts: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> dict[str, npt.NDArray[np.float64]]:
    """yaw, pitch, roll, tx, ty and scale at `times` (seconds, (N,)), float64 (N,) each."""
    yaw_drift = _drift(rng, times, *_YAW_DRIFT)
    pitch_drift = _drift(rng, times, *_PITCH_DRIFT)
    roll_drift = _drift(rng, times, *_ROLL_DRIFT)
    turns, turn_yaw, turn_pitch = _plan_turns(times, yaw_drift, max_yaw, rng)
    weight = _render(times, turns)
    yaw = yaw_drift * (1 - (1 - _DRIFT_DURING_TURN) * weight) + _render(times, turn_yaw)
    yaw = _limit_speed(_soft_limit(yaw, max_yaw), MAX_YAW_SPEED * 0.99 / fps)
    nods = _render(times, _plan_nods(times[-1] + 1 / fps, phrase_starts, rng))
    pitch = _soft_limit(pitch_drift + _render(times, turn_pitch) - nods, 25.0)
    # A turning head tilts a little with the turn, and its centre follows the nose.
    roll = _soft_limit(roll_drift + 0.06 * yaw, 8.0)
    tx = _drift(rng, times, _TRANSLATION_DRIFT, MAX_TRANSLATION * 0.6)
    tx = _soft_limit(tx + 0.02 * np.sin(np.radians(yaw)), MAX_TRANSLATION)
    ty = _drift(rng, times, _TRANSLATION_DRIFT * 0.7, MAX_TRANSLATION * 0.6)
    ty = _soft_limit(ty - 0.001 * pitch, MAX_TRANSLATION)
    scale = 1.0 + _drift(rng, times, _SCALE_DRIFT, MAX_SCALE_CHANGE, sigma=4.0)
    return {"yaw": yaw, "pitch": pitch, "roll": roll, "tx": tx, "ty": ty, "scale": scale}


def _drift(
    rng: np.random.Generator, times: npt.NDArray[np.float64], deviation: float, limit: float,
    sigma: float = 1.5,
) -> npt.NDArray[np.float64]:
    """Slow wandering at `times` (seconds, (N,)): Gaussian-smoothed noise (a slow part of
    `sigma` seconds plus a faster part a quarter of it), of standard deviation `deviation`,
    soft-limited to +/- `limit`. float64 (N,).

    The noise is drawn at a fixed control rate, not per frame, so the motion is the same at
    any frame rate and smoothing costs the same however fine the frames are.
    """
    control = np.arange(int(np.ceil(times[-1] * _CONTROL_RATE)) + 2) / _CONTROL_RATE
    slow = _smooth_noise(rng, control.size, sigma * _CONTROL_RATE)
    fast = _smooth_noise(rng, control.size, sigma * _CONTROL_RATE / 4)
    wander = deviation * (0.9 * slow + np.sqrt(0.19) * fast)
    return _soft_limit(np.interp(times, control, wander), limit)


def _smooth_noise(rng: np.random.Generator, count: int, sigma: float) -> npt.NDArray[np.float64]:
    """White noise smoothed by a Gaussian of `sigma` samples, scaled to unit variance.

    The scale comes from the kernel, not from the sample, so short clips are not inflated;
    the noise is padded so the ends are as random as the middle. float64 (count,).
    """
    pad = int(np.ceil(4 * sigma)) + 1
    smoothed = gaussian_filter1d(rng.standard_normal(count + 2 * pad), sigma)[pad:pad + count]
    offsets = np.arange(-int(4 * sigma + 0.5), int(4 * sigma + 0.5) + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    return smoothed / np.sqrt(np.sum(kernel**2))


def _soft_limit(values: npt.NDArray[np.float64], limit: float,
                knee: float = 0.8) -> npt.NDArray[np.float64]:
    """Unchanged within +/- knee * limit, then bending smoothly towards +/- limit.

    Its slope never exceeds 1, so it never makes a motion faster.
    """
    start = knee * limit
    room = limit - start
    over = np.maximum(np.abs(values) - start, 0.0)
    return np.where(over > 0, np.sign(values) * (start + room * np.tanh(over / room)), values)


def _plan_turns(
    times: npt.NDArray[np.float64], yaw_drift: npt.NDArray[np.float64], max_yaw: float,
    rng: np.random.Generator,
) -> tuple[_Pulses, _Pulses, _Pulses]:
    """Deliberate looks aside every 4-8 s: the turn weight (0-1), the yaw it adds and the
    pitch it adds. Each turn's move lasts long enough for its planned speed."""
    end = times[-1] if times.size else 0.0
    weights, yaws, pitches = [], [], []
    start = rng.uniform(0.5, 3.0)
    while start < end:
        target = rng.choice((-1.0, 1.0)) * rng.uniform(*_TURN_REACH) * max_yaw
        speed, hold = rng.uniform(*_TURN_SPEED), rng.uniform(*_TURN_HOLD)
        away = _move_time(target, np.interp(start, times, yaw_drift), speed)
        back = _move_time(target, np.interp(start + away + hold, times, yaw_drift), speed)
        length = away + hold + back
        row = (start, start + length, away / length, back / length)
        weights.append((*row, 1.0))
        yaws.append((*row, target))
        pitches.append((*row, rng.uniform(-6.0, 6.0)))
        start = max(start + rng.uniform(*_TURN_GAP), start + length + 0.5)
    return _pulses(weights), _pulses(yaws), _pulses(pitches)


def _move_time(target: float, drift: float, speed: float) -> float:
    """Seconds a half-cosine move from the drift to the target needs to peak at `speed`."""
    distance = abs(target - (1 - _DRIFT_DURING_TURN) * drift)
    return max(0.4, np.pi / 2 * distance / speed)


def _plan_nods(
    seconds: float, phrase_starts: npt.NDArray[np.float64], rng: np.random.Generator
) -> _Pulses:
    """Nods (the pitch dips and comes back in about half a second), now and then and at
    some phrase starts; returned as the depth in degrees."""
    starts = list(_poisson_times(seconds, 15.0, rng))
    starts += [t for t in phrase_starts if rng.random() < 0.15]
    return _pulses([(start, start + rng.uniform(0.4, 0.6), 0.5, 0.5, rng.uniform(4.0, 10.0))
                    for start in starts])


def _limit_speed(values: npt.NDArray[np.float64], step: float) -> npt.NDArray[np.float64]:
    """`values` followed no faster than `step` per sample; a safety net, the planned motion
    rarely needs it. Following never overshoots, so the range of `values` is kept."""
    if values.size < 2 or np.max(np.abs(np.diff(values))) <= step:
        return values
    limited = values.copy()
    for i in range(1, values.size):
        limited[i] = limited[i - 1] + np.clip(values[i] - limited[i - 1], -step, step)
    return limited
