"""VideoWriter and write_image: round trips, timing, audio, odd sizes, atomic publishing."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.media import VideoWriter, WriterConfig, probe, read_frames, read_image, write_image
from doppel.media.testclip import make_test_clip, measure_sync
from doppel.types import Frame


def transcode(source: Path, target: Path, start: int = 0, end: int | None = None, **kw) -> Path:
    with VideoWriter(target, probe(source).fps, audio_from=source, **kw) as writer:
        for frame in read_frames(source, start=start, end=end):
            writer.write(frame)
    return target


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


def test_round_trip_keeps_frames_rate_size_audio_and_sync(clip, tmp_path):
    out = transcode(clip, tmp_path / "out.mp4")
    source, result = probe(clip), probe(out)
    one_frame = 1 / float(source.fps)
    assert result.frame_count == source.frame_count == 90
    assert result.fps == source.fps
    assert (result.width, result.height) == (source.width, source.height)
    assert abs(audio_seconds(out) - float(result.duration)) < one_frame
    sync = measure_sync(out)
    assert len(sync.flashes) == 3 and len(sync.clicks) == 3
    assert all(abs(offset) < one_frame for offset in sync.offsets)
    # The picture survives: crf 18 is close to the source decode.
    before = [f.rgb for f in read_frames(clip, end=5)]
    after = [f.rgb for f in read_frames(out, end=5)]
    for a, b in zip(before, after):
        assert np.abs(a.astype(int) - b).mean() < 2.0


def test_cut_trims_audio_to_the_frames_written_and_keeps_sync(clip, tmp_path):
    out = transcode(clip, tmp_path / "cut.mp4", start=30, end=75)  # 1.0 s .. 2.5 s
    result = probe(out)
    assert result.frame_count == 45 and result.duration == Fraction(3, 2)
    assert abs(audio_seconds(out) - 1.5) < 1 / 30
    sync = measure_sync(out)
    assert sync.flashes == pytest.approx((0.5,), abs=1e-6)  # the 1.5 s flash, now at 0.5 s
    assert len(sync.clicks) == 1 and abs(sync.offsets[0]) < 1 / 30


def test_audio_is_copied_unchanged_when_the_container_accepts_it(clip, tmp_path):
    out = transcode(clip, tmp_path / "copy.mkv")
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert b.streams.audio[0].codec_context.name == "aac"
        original = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        copied = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert copied[:40] == original[:40]


def test_audio_the_container_refuses_is_transcoded_to_aac(tmp_path):
    source = make_test_clip(tmp_path / "mulaw.mov", seconds=2.0, size=(160, 120),
                            flashes=(0.5, 1.5), audio_codec="pcm_mulaw")
    out = transcode(source, tmp_path / "out.mp4")
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    assert abs(audio_seconds(out) - 2.0) < 1 / 30
    sync = measure_sync(out)
    assert len(sync.offsets) == 2 and all(abs(o) < 1 / 30 for o in sync.offsets)


def test_webm_is_vp9_with_opus_sound_in_sync(clip, tmp_path):
    """Browsers without H.264 (Debian's Chromium) play this copy."""
    out = transcode(clip, tmp_path / "out.webm", config=WriterConfig(crf=18, preset="veryfast"))
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "vp9"
        assert container.streams.audio[0].codec_context.name == "opus"
    result = probe(out)
    assert result.frame_count == 90
    sync = measure_sync(out)
    assert len(sync.offsets) == 3 and all(abs(o) < 1 / 30 for o in sync.offsets)
    before = [f.rgb for f in read_frames(clip, end=5)]
    after = [f.rgb for f in read_frames(out, end=5)]
    for a, b in zip(before, after):
        assert np.abs(a.astype(int) - b).mean() < 3.0


def test_ntsc_and_variable_rates_survive(tmp_path, run_ffmpeg):
    ntsc = tmp_path / "ntsc.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001", "-frames:v", "40",
               "-c:v", "libx264", "-preset", "ultrafast", str(ntsc))
    assert probe(transcode(ntsc, tmp_path / "ntsc-out.mp4")).fps == Fraction(30000, 1001)

    vfr = tmp_path / "vfr.mkv"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-frames:v", "40",
               "-vf", "setpts='if(lt(N,20),N/30,2/3+(N-20)/10)/TB'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "ultrafast", str(vfr))
    out = transcode(vfr, tmp_path / "vfr-out.mp4")
    assert probe(out).variable_rate
    assert [f.pts for f in read_frames(out)] == [f.pts for f in read_frames(vfr)]


def test_odd_size_is_padded_by_one_edge_copy(tmp_path):
    y, x = np.mgrid[0:121, 0:161]
    base = np.stack([x * 255 // 160, y * 255 // 120, (x + y) * 255 // 280], -1).astype(np.uint8)
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 25, config=WriterConfig(crf=0, preset="ultrafast")) as writer:
        for index in range(3):
            writer.write(Frame(index, None, np.ascontiguousarray(base)))
    info = probe(out)
    assert (info.width, info.height) == (162, 122)
    decoded = next(iter(read_frames(out))).rgb
    assert np.abs(decoded[:121, :161].astype(int) - base).mean() < 3.0
    assert np.abs(decoded[:, 161].astype(int) - decoded[:, 160]).mean() < 3.0
    assert np.abs(decoded[121].astype(int) - decoded[120]).mean() < 3.0


def test_finish_hook_runs_on_the_temp_file_before_publishing(clip, tmp_path):
    target = tmp_path / "hooked.mp4"
    seen = []

    def hook(temp: Path) -> None:
        seen.append((temp, temp.exists(), target.exists(), probe(temp).frame_count))

    transcode(clip, target, end=10, on_finish=hook)
    [(temp, temp_existed, target_existed, frames)] = seen
    assert temp_existed and not target_existed and frames == 10
    assert temp.parent == target.parent and not temp.exists() and target.exists()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_or_ctrl_c_leaves_nothing_behind(clip, tmp_path, error):
    target = tmp_path / "out.mp4"
    target_before = list(tmp_path.iterdir())
    with pytest.raises(type(error)):
        with VideoWriter(target, 30, audio_from=clip) as writer:
            for frame in read_frames(clip):
                writer.write(frame)
                if frame.index == 20:
                    raise error
    assert list(tmp_path.iterdir()) == target_before


def test_failing_hook_leaves_nothing_behind(clip, tmp_path):
    def hook(temp: Path) -> None:
        raise DoppelError("signing failed")

    with pytest.raises(DoppelError, match="signing failed"):
        transcode(clip, tmp_path / "out.mp4", end=5, on_finish=hook)
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(DoppelError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", 30):
            pass
    assert list(tmp_path.iterdir()) == []


def test_write_image_formats(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    assert np.array_equal(read_image(write_image(tmp_path / "a.png", rgb)), rgb)
    smooth = np.repeat(np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None], 30, 0).repeat(3, 2)
    for name in ("b.jpg", "c.webp"):
        back = read_image(write_image(tmp_path / name, smooth, quality=95))
        assert np.abs(back.astype(int) - smooth).mean() < 3.0
    with pytest.raises(DoppelError, match="cannot write images as .gif"):
        write_image(tmp_path / "d.gif", rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.jpg", "c.webp"]


def test_outputs_get_normal_permissions(tmp_path):
    out = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_frames_kept_as_stored_are_written_from_their_planes_with_their_matrix(
        clip, tmp_path, run_ffmpeg):
    tagged = tmp_path / "bt709.mp4"
    run_ffmpeg("-i", str(clip), "-an", "-frames:v", "4", "-c:v", "libx264", "-preset",
               "ultrafast", "-colorspace", "bt709", str(tagged))
    frames = list(read_frames(tagged, keep_yuv=True))
    assert [frame.yuv.matrix for frame in frames] == [1] * 4
    assert all(frame.yuv is None for frame in read_frames(tagged))  # only when asked
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 30, config=WriterConfig(crf=0)) as writer:  # x264 lossless
        for frame in frames:
            writer.write(frame)
    back = list(read_frames(out, keep_yuv=True))
    assert all(np.array_equal(a.yuv.planes, b.yuv.planes) for a, b in zip(frames, back))
    assert back[0].yuv.matrix == 1


def test_a_patch_rewrites_the_planes_inside_its_box_only(clip):
    from doppel.media import patch_yuv, yuv_planes

    frame = next(read_frames(clip, keep_yuv=True))
    before = [plane.copy() for plane in yuv_planes(frame.yuv.planes)]
    rgb = frame.rgb.copy()
    rgb[31:90, 41:100] = (200, 30, 60)
    patch_yuv(frame.yuv, rgb, [(41, 31, 100, 90)])
    y, u, v = yuv_planes(frame.yuv.planes)
    rows, cols = np.nonzero((y != before[0]) | np.repeat(np.repeat(
        (u != before[1]) | (v != before[2]), 2, axis=0), 2, axis=1))
    # the box, widened to even edges for 4:2:0 chroma, and nothing outside it
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (30, 89, 40, 99)
    # BT.601 limited range: Y = 16 + 219/255 (0.299 R + 0.587 G + 0.114 B)
    assert abs(int(y[60, 70]) - 88) <= 1
