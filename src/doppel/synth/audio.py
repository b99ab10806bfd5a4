"""A synthetic actor's voice: a buzzy, vowel-like sound whose loudness follows a
performance's `speech` signal frame for frame, so that A/V sync can be checked (the sound's
loudness envelope peaks with the jaw's opening at zero lag)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import lfilter
from scipy.signal.windows import hann

from doppel.errors import DoppelError
from doppel.synth.performance import Performance

_PITCH = (105.0, 190.0)  # Hz, the speaker's base pitch; intonation moves it +/- 3 semitones
_PITCH_RANGE = (95.0, 230.0)
_CONTROL_RATE = 200.0  # Hz at which the pitch contour is drawn before interpolation
_TILT = 1500.0  # Hz: above it a one-pole low-pass softens the buzz (-12 dB/octave in all)
_BANDWIDTHS = (90.0, 130.0, 200.0)  # Hz, of the three resonances (F1, F2, F3)
_FORMANT_GAINS = (1.0, 0.8, 0.5)
_FLOOR = 0.03  # what passes between resonances
_OVERLAP = 4  # analysis windows covering each sample
_BATCH = 4096  # analysis windows reshaped at once
_BREATH = 0.05  # aspiration noise, relative to the buzz
_LEVEL_WINDOW = 0.03  # seconds over which the voice is levelled before loudness is applied
_GAIN = 0.3  # peak level stays under full scale at speech = 1 (crest factor ~3)
_STREAM = 0xA0D10  # keeps the voice's randomness apart from the performance's own


def speech_audio(
    performance: Performance, sample_rate: int = 48000, seed: int | None = None
) -> npt.NDArray[np.float32]:
    """The actor's voice for `performance`: float32 mono in [-1, 1], shape (S,), with
    S = round(len(performance) / fps * sample_rate).

    Its amplitude at time i / fps is proportional to `speech[i]` (exactly 0 between two
    silent frames); the resonances follow jaw_open, mouth_wide and mouth_round. `seed`
    (default: the performance's) picks the speaker's pitch and the noise.
    """
    if sample_rate < 8000:
        raise DoppelError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    count = round(len(performance) / performance.fps * sample_rate)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    rng = np.random.default_rng([performance.seed if seed is None else seed, _STREAM])
    times = np.arange(count) / sample_rate
    loudness = _interpolate(performance.speech, performance.fps, times)
    source = _glottal_buzz(_pitch_contour(loudness, times, rng), sample_rate)
    source = source + _BREATH * np.std(source) * rng.standard_normal(count)
    voice = _level(_shape_vowels(source, performance, sample_rate), sample_rate)
    return np.clip(_GAIN * loudness * voice, -1.0, 1.0).astype(np.float32)


def loudness_envelope(
    samples: npt.NDArray[np.floating], sample_rate: int, fps: float
) -> npt.NDArray[np.float32]:
    """RMS of `samples` (mono, shape (S,)) per video frame: float32 (F,), with
    F = round(S / sample_rate * fps).

    Frame i's window is centred on its time i / fps and is one frame long (cut at the ends),
    so a sound at a frame's instant shows in that frame and no other.
    """
    samples = np.asarray(samples, dtype=np.float64)
    frames = round(samples.size / sample_rate * fps)
    power = np.concatenate(([0.0], np.cumsum(samples**2)))
    centres = np.arange(frames) * sample_rate / fps
    half = sample_rate / fps / 2
    low = np.clip(np.round(centres - half).astype(np.int64), 0, samples.size)
    high = np.clip(np.round(centres + half).astype(np.int64), 0, samples.size)
    mean = (power[high] - power[low]) / np.maximum(high - low, 1)
    return np.sqrt(np.maximum(mean, 0.0)).astype(np.float32)


def _interpolate(
    signal: npt.NDArray[np.float32], fps: float, times: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """A per-frame signal at `times` (seconds): smooth, never overshooting (monotone cubic),
    so it stays in [0, 1] and stays exactly 0 between zero frames; float64 like `times`."""
    if signal.size < 2:
        return np.full_like(times, float(signal[0]) if signal.size else 0.0)
    frame_times = np.arange(signal.size) / fps
    # Times past the last frame's instant (its own duration) hold the end values.
    inside = np.clip(times, 0.0, frame_times[-1])
    return np.clip(PchipInterpolator(frame_times, signal.astype(np.float64))(inside), 0.0, 1.0)


def _pitch_contour(
    loudness: npt.NDArray[np.float64], times: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Fundamental frequency in Hz at `times`: a base pitch that wanders slowly and rises on
    loud (stressed) syllables, as intonation does; float64 like `times`."""
    base = rng.uniform(*_PITCH)
    control = np.arange(int(times[-1] * _CONTROL_RATE) + 2) / _CONTROL_RATE
    sigma = 0.4 * _CONTROL_RATE
    # Smoothed white noise has variance 1 / (2 sqrt(pi) sigma); this brings it back to 1.
    wander = gaussian_filter1d(rng.standard_normal(control.size), sigma, mode="wrap")
    wander *= np.sqrt(2 * np.sqrt(np.pi) * sigma)
    semitones = 1.5 * np.interp(times, control, wander) + 2.5 * (loudness - 0.5)
    return np.clip(base * 2.0 ** (semitones / 12), *_PITCH_RANGE)


def _glottal_buzz(pitch: npt.NDArray[np.float64], sample_rate: int) -> npt.NDArray[np.float64]:
    """A sawtooth at `pitch` (Hz per sample) with its steps band-limited (polyBLEP) so it
    does not alias, then tilted down like glottal pulses; float64, same shape."""
    step = pitch / sample_rate
    phase = np.cumsum(step) % 1.0
    buzz = 2.0 * phase - 1.0
    start = phase < step
    t = phase[start] / step[start]
    buzz[start] -= 2 * t - t * t - 1
    end = phase > 1.0 - step
    t = (phase[end] - 1.0) / step[end]
    buzz[end] -= t * t + 2 * t + 1
    pole = np.exp(-2 * np.pi * _TILT / sample_rate)
    return lfilter([1.0 - pole], [1.0, -pole], buzz)


def _formants(
    jaw: npt.NDArray[np.float64], wide: npt.NDArray[np.float64], round_: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], ...]:
    """The first three resonance frequencies (Hz), each shaped like the inputs.

    Opening the jaw raises F1; spreading the lips raises F2 and F3, rounding lowers them
    (the vowel triangle: "a" high F1, "ee" high F2, "oo" low F1 and F2).
    """
    first = 300.0 + 500.0 * jaw
    second = 1400.0 + 900.0 * wide - 700.0 * round_
    third = 2500.0 + 300.0 * wide - 300.0 * round_
    return first, second, third


def _shape_vowels(
    source: npt.NDArray[np.float64], performance: Performance, sample_rate: int
) -> npt.NDArray[np.float64]:
    """`source` (float64 (S,)) filtered by three resonances that move with the mouth, by
    reshaping its short-time spectrum (Hann windows of ~20 ms, which resolve the pitch's
    harmonics, overlapping by 3/4); float64 (S,)."""
    length = 2 ** int(np.round(np.log2(0.02 * sample_rate)))
    hop = length // _OVERLAP
    window = hann(length, sym=False)
    # Pad so that every sample is covered by _OVERLAP windows and the frames tile exactly.
    padded = np.pad(source, (length, length + (-source.size) % hop))
    frames = sliding_window_view(padded, length)[::hop]
    frequencies = np.fft.rfftfreq(length, 1.0 / sample_rate)
    blocks = np.zeros((frames.shape[0] + _OVERLAP - 1, hop))
    # In batches: a whole long clip's spectrogram would not fit in memory.
    for first in range(0, frames.shape[0], _BATCH):
        batch = frames[first:first + _BATCH]
        centres = (first + np.arange(batch.shape[0])) * hop / sample_rate - length / 2 / sample_rate
        envelope = _vowel_envelope(performance, centres, frequencies)
        shaped = np.fft.irfft(np.fft.rfft(batch * window) * envelope, n=length) * window
        for part, piece in enumerate(shaped.reshape(batch.shape[0], _OVERLAP, hop).swapaxes(0, 1)):
            blocks[first + part:first + part + batch.shape[0]] += piece
    gain = np.sum((window**2).reshape(_OVERLAP, hop), axis=0)  # constant for Hann at 3/4
    return (blocks / gain).reshape(-1)[length:length + source.size]


def _vowel_envelope(
    performance: Performance, times: npt.NDArray[np.float64],
    frequencies: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The vocal tract's gain at `times` (seconds, (T,)) and `frequencies` (Hz, (K,)):
    three resonances over a floor; float64 (T, K)."""
    mouth = (_interpolate(getattr(performance, name), performance.fps, times)[:, np.newaxis]
             for name in ("jaw_open", "mouth_wide", "mouth_round"))
    envelope = np.full((times.size, frequencies.size), _FLOOR)
    for formant, bandwidth, gain in zip(_formants(*mouth), _BANDWIDTHS, _FORMANT_GAINS):
        envelope += gain / (1.0 + ((frequencies - formant) / (bandwidth / 2)) ** 2)
    return envelope


def _level(voice: npt.NDArray[np.float64], sample_rate: int) -> npt.NDArray[np.float64]:
    """`voice` (float64 (S,)) scaled to unit short-term RMS, so that vowels do not change its
    loudness and the performance's `speech` alone sets it; float64 (S,)."""
    window = max(1, round(_LEVEL_WINDOW * sample_rate))
    power = uniform_filter1d(voice**2, window, mode="nearest")
    return voice / np.sqrt(power + 1e-12 + 1e-6 * np.mean(power))
