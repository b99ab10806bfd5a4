"""The synthetic voice: length and range, silence in pauses, loudness in step with the jaw
(zero lag, so A/V sync is checkable), pitch and vowel resonances, and the envelope itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from doppel.synth.audio import loudness_envelope, speech_audio
from doppel.synth.performance import Performance, generate_performance, neutral_performance

RATE = 48000
FPS = 30.0


@pytest.fixture(scope="module")
def performance() -> Performance:
    return generate_performance(12.0, FPS, seed=11)


@pytest.fixture(scope="module")
def voice(performance) -> npt.NDArray[np.float32]:
    return speech_audio(performance, RATE)


def dbfs(rms: float) -> float:
    return 20 * np.log10(max(rms, 1e-12))


def correlation_by_lag(a: npt.NDArray, b: npt.NDArray, lags: range) -> dict[int, float]:
    """Pearson correlation of a[i] with b[i + lag] for each lag."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    result = {}
    for lag in lags:
        x = a[max(0, -lag):a.size - max(0, lag)]
        y = b[max(0, lag):b.size - max(0, -lag)]
        result[lag] = float(np.corrcoef(x, y)[0, 1])
    return result


def steady(frames: int = 60, **signals: float) -> Performance:
    """A still actor holding one mouth shape and loudness."""
    still = neutral_performance(frames, FPS, seed=3)
    return replace(still, **{name: np.full(frames, value, np.float32)
                             for name, value in signals.items()})


def test_length_dtype_range_and_determinism(performance, voice):
    assert voice.dtype == np.float32 and voice.shape == (round(12.0 * RATE),)
    assert np.abs(voice).max() <= 1.0 and np.abs(voice).max() > 0.3
    np.testing.assert_array_equal(voice, speech_audio(performance, RATE))
    assert not np.array_equal(voice, speech_audio(performance, RATE, seed=12))
    odd = generate_performance(2.0, 29.97, seed=1)
    assert speech_audio(odd, 44100).shape == (round(len(odd) / 29.97 * 44100),)


def test_silent_in_pauses_loud_in_phrases(performance, voice):
    envelope = loudness_envelope(voice, RATE, FPS)
    silent = performance.speech == 0
    # A pause's own frames, away from the voice's onset and offset ramps.
    inside = silent & np.roll(silent, 1) & np.roll(silent, -1)
    assert inside.sum() > FPS  # the clip has pauses at all
    assert dbfs(float(envelope[inside].max())) < -50
    assert dbfs(float(envelope[performance.jaw_open > 0.5].min())) > -30


def test_loudness_follows_the_jaw_at_zero_lag(performance, voice):
    envelope = loudness_envelope(voice, RATE, FPS)
    assert envelope.shape == (len(performance),)
    correlations = correlation_by_lag(performance.jaw_open, envelope, range(-5, 6))
    best = max(correlations, key=correlations.get)
    assert abs(best) <= 1 and correlations[best] > 0.7, correlations
    assert correlations[0] > 0.9


def test_a_delayed_voice_shows_its_delay(performance, voice):
    # What a sync check relies on: sound three frames late peaks at lag +3.
    delay = round(3 * RATE / FPS)
    late = np.concatenate((np.zeros(delay, np.float32), voice[:-delay]))
    correlations = correlation_by_lag(performance.jaw_open,
                                      loudness_envelope(late, RATE, FPS), range(-6, 7))
    assert max(correlations, key=correlations.get) == 3


def test_pitch_is_a_voice_pitch():
    sound = speech_audio(steady(jaw_open=0.6, speech=0.8), RATE).astype(np.float64)
    segment = sound[RATE // 4:RATE // 4 + 4096]
    autocorrelation = np.correlate(segment, segment, mode="full")[segment.size - 1:]
    lags = np.arange(RATE // 300, RATE // 80)  # 80-300 Hz
    pitch = RATE / lags[np.argmax(autocorrelation[lags])]
    assert 95 <= pitch <= 230


def spectrum(performance: Performance) -> tuple[npt.NDArray, npt.NDArray]:
    """Frequencies (Hz) and power of the whole voice for `performance`."""
    sound = speech_audio(performance, RATE).astype(np.float64)
    return np.fft.rfftfreq(sound.size, 1 / RATE), np.abs(np.fft.rfft(sound)) ** 2


def test_first_resonance_rises_as_the_jaw_opens():
    def centroid(jaw: float) -> float:
        frequencies, power = spectrum(steady(speech=0.8, jaw_open=jaw))
        band = (frequencies > 200) & (frequencies < 1000)
        return float(np.sum(frequencies[band] * power[band]) / np.sum(power[band]))

    assert centroid(1.0) > centroid(0.1) + 200


def test_second_resonance_rises_when_lips_spread_and_falls_when_they_round():
    def brightness(**lips: float) -> float:
        frequencies, power = spectrum(steady(speech=0.8, jaw_open=0.4, **lips))
        return float(power[(frequencies > 1800) & (frequencies < 2800)].sum()
                     / power[(frequencies > 400) & (frequencies < 1000)].sum())

    assert brightness(mouth_wide=1.0) > 2 * brightness(mouth_round=1.0)  # "ee" against "oo"


def test_envelope_measures_rms_centred_on_each_frame():
    samples = np.zeros(RATE, np.float32)  # one second: 30 frames
    times = np.arange(RATE) / RATE
    tone = (times >= 9.5 / FPS) & (times < 20.5 / FPS)  # frames 10-20, by centred windows
    samples[tone] = 0.5 * np.sin(2 * np.pi * 1200 * times[tone])
    envelope = loudness_envelope(samples, RATE, FPS)
    assert envelope.shape == (30,) and envelope.dtype == np.float32
    np.testing.assert_allclose(envelope[10:21], 0.5 / np.sqrt(2), rtol=0.02)
    assert not envelope[:10].any() and not envelope[21:].any()
