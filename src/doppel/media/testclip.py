"""A calibration clip (test pattern, tone, flash frames with clicks) and its A/V sync check.

Used by the demo, the benchmarks and the tests: a white flash frame and a loud click are
made at the same instants, so after any processing their time difference is the A/V offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from doppel.files import atomic_path

_SAMPLE_RATE = 48000
_CLICK_SECONDS = 0.004


@dataclass(frozen=True)
class SyncReport:
    """Flash-frame and click times (seconds from the start of the file), paired in order."""

    flashes: tuple[float, ...]
    clicks: tuple[float, ...]

    @property
    def offsets(self) -> tuple[float, ...]:
        """click - flash for each pair; positive means the sound comes late."""
        return tuple(c - f for f, c in zip(self.flashes, self.clicks))


def make_test_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    size: tuple[int, int] = (640, 360),
    fps: Fraction = Fraction(30),
    flashes: tuple[float, ...] = (0.5, 1.5, 2.5),
    audio: bool = True,
    audio_codec: str = "aac",
    preset: str = "ultrafast",
) -> Path:
    """Write a test pattern clip: moving gradient and box, a tone, flash frames with clicks.

    A flash at time t whitens the frame whose interval contains t and starts a click at that
    frame's start time, so the true A/V offset is zero.
    """
    width, height = size
    count = int(round(seconds * fps))
    flash_frames = {int(t * fps) for t in flashes}
    with atomic_path(Path(path)) as temp, av.open(str(temp), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"preset": preset, "crf": "20"}
        sound = None
        if audio:
            sound = container.add_stream(audio_codec, rate=_SAMPLE_RATE)
            sound.layout = "mono"
        samples_written = 0
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(
                _pattern(index, width, height, index in flash_frames), format="rgb24"
            )
            frame.pts = index
            container.mux(video.encode(frame))
            if sound is not None:
                end = int(round(Fraction(index + 1) / fps * _SAMPLE_RATE))
                chunk = _tone(samples_written, end, fps, flash_frames)
                samples_written = end
                audio_frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt",
                                                         layout="mono")
                audio_frame.sample_rate = _SAMPLE_RATE
                audio_frame.pts = samples_written - chunk.size
                container.mux(sound.encode(audio_frame))
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return Path(path)


def _pattern(index: int, width: int, height: int, flash: bool) -> np.ndarray:
    if flash:
        return np.full((height, width, 3), 255, np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = (x * 160 // max(width, 1) + index * 2) % 160
    rgb[..., 1] = y * 120 // max(height, 1)
    rgb[..., 2] = 60 + (index * 3) % 60
    side = max(4, min(width, height) // 6)
    left = (index * 7) % max(width - side, 1)
    top = (height - side) // 2
    rgb[top:top + side, left:left + side] = (30, 200, 90)
    return rgb


def _tone(first: int, end: int, fps: Fraction, flash_frames: set[int]) -> np.ndarray:
    t = np.arange(first, end) / _SAMPLE_RATE
    signal = 0.05 * np.sin(2 * np.pi * 440.0 * t)
    for frame in flash_frames:
        start = float(Fraction(frame) / fps)
        inside = (t >= start) & (t < start + _CLICK_SECONDS)
        signal[inside] = 0.9 * np.sign(np.sin(2 * np.pi * 2000.0 * (t[inside] - start)) + 1e-9)
    return signal.astype(np.float32)


def measure_sync(path: Path) -> SyncReport:
    """Find flash frames and click onsets in `path`, both timed from the video's first frame."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        origin = Fraction(video.start_time or 0) * video.time_base
        flashes: list[float] = []
        video_end = 0.0
        for frame in container.decode(video):
            when = float(frame.pts * video.time_base - origin)
            video_end = when + 1 / float(video.average_rate or 30)
            if frame.to_ndarray(format="gray").mean() > 200:
                flashes.append(when)
    clicks: list[float] = []
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            previous = -1.0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                start = float(frame.pts * stream.time_base - origin)
                for mono in resampler.resample(frame):
                    data = mono.to_ndarray().reshape(-1)
                    loud = np.flatnonzero(np.abs(data) > 0.5)
                    for sample in loud:
                        when = start + sample / mono.sample_rate
                        # Sound past the last frame has no picture to be in sync with.
                        if when - previous > 0.1 and when < video_end:
                            clicks.append(when)
                        previous = when
    return SyncReport(tuple(flashes), tuple(clicks))
