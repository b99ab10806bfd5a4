"""Every bad input gets a DoppelError that says what to do, and no output under the final name."""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import av
import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.media import VideoWriter, probe, read_frames, read_image
from doppel.media.testclip import make_test_clip
from doppel.types import Frame


def one_frame() -> Frame:
    return Frame(0, None, np.zeros((16, 16, 3), np.uint8))


def add_silence(container, packets: int) -> None:
    sound = container.add_stream("aac", rate=48000)
    sound.layout = "mono"
    for index in range(packets):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, index * 1024
        container.mux(sound.encode(frame))
    container.mux(sound.encode(None))


def test_missing_path(tmp_path):
    for call in (probe, lambda p: list(read_frames(p))):
        with pytest.raises(DoppelError, match="no such file or directory"):
            call(tmp_path / "nope.mp4")


def test_directory_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DoppelError, match="no images in directory"):
        list(read_frames(tmp_path))


def test_unsupported_extension(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(DoppelError, match=r"unsupported file type \.txt.*use a video"):
        probe(path)


def test_garbage_video_and_image(tmp_path):
    video, image = tmp_path / "junk.mp4", tmp_path / "junk.png"
    video.write_bytes(os.urandom(5000))
    image.write_bytes(os.urandom(5000))
    with pytest.raises(DoppelError, match="cannot open video .*corrupt"):
        list(read_frames(video))
    with pytest.raises(DoppelError, match="cannot read image .*corrupt"):
        read_image(image)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(DoppelError, match="cannot open video"):
        probe(path)


def test_truncated_video_decodes_what_it_can_and_warns_with_a_count(tmp_path, caplog):
    # faststart puts the index first, so a cut-off file still opens, like a broken download.
    full = tmp_path / "full.mp4"
    source = make_test_clip(tmp_path / "src.mp4", seconds=2.0, size=(160, 120), audio=False)
    with av.open(str(source)) as inp, av.open(str(full), "w",
                                              options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    data = full.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="doppel.media"):
        frames = list(read_frames(truncated))
    assert 0 < len(frames) < 60
    [record] = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert f"{60 - len(frames)} frame(s) could not be decoded" in record.getMessage()


def test_zero_frame_video(tmp_path):
    path = tmp_path / "zero.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        add_silence(container, packets=10)
        container.mux(video.encode(None))
    with pytest.raises(DoppelError, match="has no video frames"):
        probe(path)
    with pytest.raises(DoppelError, match="no decodable video frames"):
        list(read_frames(path))


def test_audio_only_file(tmp_path):
    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as container:
        add_silence(container, packets=1)
    with pytest.raises(DoppelError, match="holds only audio"):
        probe(path)
    with pytest.raises(DoppelError, match="holds only audio"):
        list(read_frames(path))


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target, message in [(tmp_path / "missing" / "o.mp4", "does not exist"),
                            (blocker / "o.mp4", "is not a directory")]:
        with pytest.raises(DoppelError, match=message):
            with VideoWriter(target, 30) as writer:
                writer.write(one_frame())
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(DoppelError, match="not writable"):
            with VideoWriter(locked / "o.mp4", 30) as writer:
                writer.write(one_frame())


def test_output_equal_to_input_is_refused(clip, tmp_path):
    before = clip.read_bytes()
    with pytest.raises(DoppelError, match="is the input file"):
        with VideoWriter(clip, 30, audio_from=clip) as writer:
            writer.write(one_frame())
    link = tmp_path / "same.mp4"
    link.symlink_to(clip)
    with pytest.raises(DoppelError, match="is the input file"):
        with VideoWriter(link, 30, inputs=(clip,)) as writer:
            writer.write(one_frame())
    assert clip.read_bytes() == before


def test_unsupported_output_extension(tmp_path):
    with pytest.raises(DoppelError, match="use one of .mp4 .mov .mkv"):
        VideoWriter(tmp_path / "o.avi", 30)
    with pytest.raises(DoppelError, match="frame rate must be positive"):
        VideoWriter(tmp_path / "o.mp4", Fraction(0))


def test_bad_frame_range(clip):
    with pytest.raises(DoppelError, match="bad frame range"):
        list(read_frames(clip, start=5, end=2))
