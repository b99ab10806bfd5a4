"""Carrying a source's audio into a new video: copied unchanged when possible, cut to the
span of the written frames, interleaved with the video as it is written."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger("doppel.media")

OPUS_RATES = (48000, 24000, 16000, 12000, 8000)  # the only rates Opus encodes


def open_audio(source: Path, output, start: Fraction, codec: str = "aac"
               ) -> AudioCopy | AudioTranscode | None:
    """Prepare the first audio stream of `source` for `output`, from video time `start`:
    copied when the container accepts its codec, else transcoded to `codec`.

    `start` is the first written frame's pts, which counts from the source's first video
    frame; both streams' own start times are taken into account so sync is kept.
    """
    try:
        container = av.open(str(source), mode="r")
    except (av.error.FFmpegError, OSError):
        log.warning("%s: cannot open for audio; the output has no sound", source)
        return None
    if not container.streams.audio:
        container.close()
        return None
    video = container.streams.video[0] if container.streams.video else None
    video_start = (
        Fraction(video.start_time) * video.time_base
        if video is not None and video.start_time is not None else Fraction(0)
    )
    stream = container.streams.audio[0]
    if stream.codec_context.name in output.supported_codecs:
        return AudioCopy(container, stream, output, video_start + start)
    return AudioTranscode(container, stream, output, video_start + start, codec)


class _AudioSource:
    def __init__(self, container, stream, origin: Fraction) -> None:
        self.container = container
        self.stream = stream
        self.origin = origin  # source time (s) that becomes time 0 in the output
        self.packets = container.demux(stream)
        self.pending = None  # a packet read ahead of the video

    def _next_packet(self):
        if self.pending is not None:
            packet, self.pending = self.pending, None
            return packet
        while True:
            try:
                packet = next(self.packets)
            except (StopIteration, av.error.FFmpegError):
                return None
            if packet.pts is not None and packet.size:
                return packet

    def _packets_until(self, until: Fraction):
        """Source packets that start before output time `until`."""
        while (packet := self._next_packet()) is not None:
            start = Fraction(packet.pts) * self.stream.time_base - self.origin
            if start >= until:
                self.pending = packet
                return
            yield packet, start

    def close(self) -> None:
        self.container.close()


class AudioCopy(_AudioSource):
    """Remux the source's audio packets unchanged (no re-encoding, no quality loss)."""

    def __init__(self, container, stream, output, origin: Fraction) -> None:
        super().__init__(container, stream, origin)
        self.output = output
        self.out_stream = output.add_stream_from_template(stream)
        self.shift = round(origin / stream.time_base)

    def pump(self, until: Fraction) -> None:
        self._mux_until(until, end=None)

    def finish(self, end: Fraction) -> None:
        self._mux_until(end, end=end)
        self.close()

    def _mux_until(self, until: Fraction, end: Fraction | None) -> None:
        for packet, start in self._packets_until(until):
            length = Fraction(packet.duration or 0) * self.stream.time_base
            if start + length < 0:
                # Wholly before the first frame. The packet that ends exactly there is kept:
                # audio codecs overlap packets, so it primes the decoder for the first one.
                continue
            packet.pts -= self.shift
            if packet.dts is not None:
                packet.dts -= self.shift
            packet.stream = self.out_stream
            self.output.mux(packet)


class AudioTranscode(_AudioSource):
    """Decode, cut to the exact sample and encode (AAC, or Opus for WebM), for codecs the
    container refuses."""

    def __init__(self, container, stream, output, origin: Fraction, codec: str = "aac") -> None:
        super().__init__(container, stream, origin)
        self.output = output
        rate = stream.codec_context.sample_rate or 48000
        if codec == "libopus" and rate not in OPUS_RATES:
            rate = 48000
        self.rate = rate
        self.out_stream = output.add_stream(codec, rate=rate)
        self.out_stream.layout = stream.codec_context.layout.name if stream.codec_context.layout else "stereo"
        self.out_stream.bit_rate = 192_000
        self.resampler = av.AudioResampler(format="fltp", layout=self.out_stream.layout, rate=rate)
        self.written = 0  # samples

    def pump(self, until: Fraction) -> None:
        self._encode_until(until, end=None)

    def finish(self, end: Fraction) -> None:
        self._encode_until(end, end=end)
        self.output.mux(self.out_stream.encode(None))
        self.close()

    def _encode_until(self, until: Fraction, end: Fraction | None) -> None:
        for packet, _ in self._packets_until(until):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                for chunk in self.resampler.resample(frame):
                    self._encode(chunk, end)

    def _encode(self, chunk: av.AudioFrame, end: Fraction | None) -> None:
        start = Fraction(chunk.pts or 0) * chunk.time_base - self.origin if chunk.pts is not None else Fraction(self.written, self.rate)
        samples = chunk.to_ndarray()  # planar: channels x n
        first = max(0, round(-start * self.rate))
        last = samples.shape[1]
        if end is not None:
            last = min(last, max(0, round((end - start) * self.rate)))
        if first >= last:
            return
        cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, first:last]),
                                         format="fltp", layout=self.out_stream.layout)
        cut.sample_rate = self.rate
        cut.pts = self.written
        cut.time_base = Fraction(1, self.rate)
        self.written += last - first
        self.output.mux(self.out_stream.encode(cut))
