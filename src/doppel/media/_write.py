"""Writing H.264 video with the source's timing and audio, published atomically."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.files import FinishHook, atomic_path
from doppel.media._audio import AudioCopy, AudioTranscode, open_audio
from doppel.media._formats import VIDEO_WRITE_SUFFIXES
from doppel.media._video import WRITE_MATRIX, RgbConverter
from doppel.types import Frame

log = logging.getLogger("doppel.media")

Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
# VP9's speed setting (cpu-used, 0 slowest .. 8 fastest) for each x264 preset name, so one
# --preset serves both encoders.
_VP9_SPEED = {"ultrafast": 8, "superfast": 7, "veryfast": 6, "faster": 5, "fast": 4,
              "medium": 3, "slow": 2, "slower": 1, "veryslow": 0}
_TIME_BASE = Fraction(1, 90000)  # fine enough for any real frame rate's timestamps
_SNAP = Fraction(1, 1000)


@dataclass(frozen=True)
class WriterConfig:
    """How video is encoded."""

    crf: int = field(
        default=18, metadata={"help": "x264 quality: 0 lossless … 51 worst; 18 looks lossless",
                              "min": 0, "max": 51}
    )
    preset: Preset = field(
        default="medium", metadata={"help": "x264 speed/size trade-off (slower = smaller file)"}
    )

    def __post_init__(self) -> None:
        check_fields(self)


class VideoWriter:
    """Write frames as H.264 (yuv420p, BT.601 matrix, tagged) into .mp4, .mov or .mkv, or as
    VP9 with Opus sound into .webm (what browsers without H.264, such as Debian's Chromium,
    play; crf then means VP9's 0-63 scale, where 18 also looks lossless).

    Pictures: a Frame that carries its stored planes (`Frame.yuv`, see read_frames) is
    written from them, and the file is tagged with their matrix (BT.709 stays BT.709); else
    its RGB is converted (BT.601, tagged).
    Timing: each Frame's `pts` is kept (shifted so the first written frame starts at 0), so a
    variable-rate source stays variable-rate; frames without pts are spaced 1/fps apart.
    Audio: with `audio_from`, that file's first audio stream is muxed unchanged when the
    container accepts its codec, else transcoded to AAC; it is cut to the span of the written
    frames, so writing frames 300-600 of a clip keeps the matching 10 s of sound.
    Odd sizes: H.264 4:2:0 needs even width and height, so an odd dimension gets one extra
    column/row, a copy of the last one: nothing is lost or resampled, the output is 1 px larger.
    Safety: frames go to a temp file next to `path`; `on_finish` runs on the complete temp
    file, which is then renamed to `path`. On any error or Ctrl-C nothing appears at `path`.
    """

    def __init__(
        self,
        path: Path,
        fps: Fraction | float,
        *,
        audio_from: Path | None = None,
        config: WriterConfig = WriterConfig(),
        threads: int = 0,
        inputs: tuple[Path, ...] = (),
        on_finish: FinishHook | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_WRITE_SUFFIXES:
            raise DoppelError(
                f"cannot write video as {self.path.suffix or '(no extension)'}: "
                f"use one of {' '.join(VIDEO_WRITE_SUFFIXES)}"
            )
        if not fps or fps <= 0:
            raise DoppelError(f"frame rate must be positive, got {fps}")
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        self.config = config
        self.threads = threads
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self._inputs = tuple(inputs) + ((self.audio_from,) if self.audio_from else ())
        self._on_finish = on_finish
        self._stack = contextlib.ExitStack()
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._audio: AudioCopy | AudioTranscode | None = None
        self._size: tuple[int, int] | None = None
        self._converter = RgbConverter()
        self._matrix = WRITE_MATRIX
        self._first_pts: Fraction | None = None
        self._last_pts = -1
        self.frames_written = 0

    def __enter__(self) -> VideoWriter:
        temp = self._stack.enter_context(
            atomic_path(self.path, inputs=self._inputs, on_finish=self._on_finish)
        )
        try:
            self._container = av.open(str(temp), mode="w")
        except (av.error.FFmpegError, OSError) as error:
            self._stack.close()
            raise DoppelError(f"cannot create {self.path}: {error}") from None
        return self

    def write(self, frame: Frame) -> None:
        """Encode one frame (RGB uint8 HxWx3). All frames must have the same size."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write called outside its `with` block")
        rgb = frame.rgb
        if self._stream is None:
            self._start(rgb.shape[1], rgb.shape[0], frame.pts,
                        frame.yuv.matrix if frame.yuv is not None else WRITE_MATRIX)
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            raise ValueError(f"frame size {rgb.shape[1]}x{rgb.shape[0]} differs from the first "
                             f"frame's {self._size[0]}x{self._size[1]}")
        seconds = self._seconds(frame)
        pts = max(round(seconds / _TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        if frame.yuv is not None and frame.yuv.matrix == self._matrix:
            # no copy: x264 copies the picture into its own buffers as it takes it
            video_frame = av.VideoFrame.from_numpy_buffer(frame.yuv.planes, format="yuv420p")
        else:
            video_frame = self._converter.to_yuv(_pad_even(rgb), self._matrix)
        video_frame.pts = pts
        video_frame.time_base = _TIME_BASE
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1
        if self._audio is not None:
            self._audio.pump(until=pts * _TIME_BASE)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._close_quietly()
            return self._stack.__exit__(exc_type, exc, tb)
        try:
            self._finish()
        except BaseException as error:
            self._close_quietly()
            if not self._stack.__exit__(type(error), error, error.__traceback__):
                raise
            return False
        return self._stack.__exit__(None, None, None)

    # -- internals ---------------------------------------------------------------------------

    def _seconds(self, frame: Frame) -> Fraction:
        if frame.pts is None or self._first_pts is None:
            return Fraction(self.frames_written) / self.fps
        seconds = frame.pts - self._first_pts
        # Containers round times (Matroska to 1 ms); put a time that is that close to the
        # nominal frame grid back on it, so a constant-rate source stays exactly constant.
        nearest = round(seconds * self.fps) / self.fps
        return nearest if abs(seconds - nearest) <= _SNAP else seconds

    def _start(self, width: int, height: int, first_pts: Fraction | None, matrix: int) -> None:
        self._size = (width, height)
        self._matrix = matrix
        self._first_pts = first_pts
        webm = self.path.suffix.lower() == ".webm"
        stream = self._container.add_stream("libvpx-vp9" if webm else "libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        context = stream.codec_context
        context.time_base = _TIME_BASE
        context.framerate = self.fps
        context.colorspace = matrix  # tagged, so players need not guess
        context.color_range = 1  # limited ("TV") range, what players expect from H.264
        if webm:  # constant quality: crf with no bitrate cap
            context.options = {"crf": str(self.config.crf), "b": "0", "deadline": "good",
                               "cpu-used": str(_VP9_SPEED[self.config.preset]), "row-mt": "1"}
        else:
            stream.thread_type = "FRAME"  # x264 frame threads: faster than PyAV's slices
            context.options = {"crf": str(self.config.crf), "preset": self.config.preset}
        if self.threads:
            context.thread_count = self.threads
        self._stream = stream
        if self.audio_from is not None and first_pts is not None:
            self._audio = open_audio(self.audio_from, self._container, start=first_pts,
                                     codec="libopus" if webm else "aac")
        elif self.audio_from is not None:
            log.warning("frames carry no timestamps: %s's audio is not muxed", self.audio_from)

    def _finish(self) -> None:
        if self._stream is None:
            raise DoppelError(f"no frames to write to {self.path}: the input yielded none")
        self._container.mux(self._stream.encode(None))
        if self._audio is not None:
            end = self._last_pts * _TIME_BASE + 1 / self.fps
            self._audio.finish(end)
        self._container.close()
        self._container = None

    def _close_quietly(self) -> None:
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
