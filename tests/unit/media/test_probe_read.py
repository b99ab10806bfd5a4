"""probe and read_frames, checked against ffmpeg-made files whose truth is known."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from doppel.media import probe, read_frames, read_image


def test_probe_test_clip(clip):
    info = probe(clip)
    assert (info.kind, info.width, info.height) == ("video", 320, 240)
    assert info.fps == Fraction(30) and not info.variable_rate
    assert info.frame_count == 90 and info.duration == Fraction(3)
    assert info.has_audio and info.rotation == 0 and info.codec == "h264"


def test_probe_ntsc_rate_is_exact(tmp_path, run_ffmpeg):
    path = tmp_path / "ntsc.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001", "-frames:v", "50",
               "-c:v", "libx264", "-preset", "ultrafast", str(path))
    info = probe(path)
    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == 50
    assert info.duration == Fraction(50 * 1001, 30000)
    assert not info.has_audio
    frames = list(read_frames(path))
    assert [f.index for f in frames] == list(range(50))
    assert frames[7].pts == Fraction(7 * 1001, 30000)


def test_probe_variable_rate(tmp_path, run_ffmpeg):
    # 30 frames at 30 fps, then 20 frames at 10 fps: 1 s + 2 s.
    path = tmp_path / "vfr.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-frames:v", "50",
               "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/10)/TB'", "-fps_mode", "vfr",
               "-video_track_timescale", "30000",
               "-c:v", "libx264", "-preset", "ultrafast", str(path))
    info = probe(path)
    assert info.variable_rate
    assert info.frame_count == 50
    # The last frame's duration is whatever the muxer stored for it (not knowable from VFR).
    assert Fraction(29, 10) < info.duration <= Fraction(3)
    assert float(info.fps) == pytest.approx(49 / 2.9, rel=1e-3)
    pts = [f.pts for f in read_frames(path)]
    assert pts[29] == Fraction(29, 30) and pts[31] == Fraction(11, 10)


def test_rotation_is_applied_like_ffmpeg_does(tmp_path, run_ffmpeg, ffmpeg, clip):
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", str(clip), "-c", "copy", str(rotated))
    info = probe(rotated)
    assert info.rotation == 90 and (info.width, info.height) == (240, 320)
    ours = next(iter(read_frames(rotated, start=10, end=11))).rgb
    # ffmpeg's command line auto-rotates: that is the picture a player shows.
    raw = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(rotated), "-vf", "select=eq(n\\,10)", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    reference = np.frombuffer(raw, np.uint8).reshape(320, 240, 3)
    assert ours.shape == (320, 240, 3)
    assert np.abs(ours.astype(int) - reference).mean() < 3.0
    # And it is not merely the same on a symmetric picture: unrotated differs a lot.
    assert np.abs(np.rot90(ours, -1).astype(int)[:240, :240] - reference[:240, :240]).mean() > 10


def test_read_range_and_step(clip):
    frames = list(read_frames(clip, start=10, end=20, step=3))
    assert [f.index for f in frames] == [10, 13, 16, 19]
    assert [f.pts for f in frames] == [Fraction(i, 30) for i in (10, 13, 16, 19)]
    assert all(f.rgb.shape == (240, 320, 3) and f.rgb.dtype == np.uint8 for f in frames)


def test_seeking_gives_the_same_pixels_as_decoding_from_the_start(clip):
    everything = {f.index: f.rgb for f in read_frames(clip)}
    late = list(read_frames(clip, start=75, end=78))
    assert [f.index for f in late] == [75, 76, 77]
    for frame in late:
        assert np.array_equal(frame.rgb, everything[frame.index])


def test_single_image_and_directory_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for number in (10, 2, 1):
        Image.new("RGB", (8, 6), (number, 0, 0)).save(folder / f"f{number}.png")
    (folder / "notes.txt").write_text("not an image")
    frames = list(read_frames(folder))
    assert [int(f.rgb[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert [f.index for f in frames] == [0, 1, 2] and frames[0].pts is None
    info = probe(folder)
    assert (info.kind, info.frame_count, info.width, info.height) == ("directory", 3, 8, 6)
    single = list(read_frames(folder / "f2.png"))
    assert len(single) == 1 and single[0].rgb.shape == (6, 8, 3)


def test_image_modes_become_rgb8(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((4, 5), 77, np.uint8), "L").save(gray)
    assert np.all(read_image(gray) == 77) and read_image(gray).shape == (4, 5, 3)

    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 5), 0xABCD, np.uint16)).save(deep)
    assert np.all(read_image(deep) == 0xAB)

    rgba = tmp_path / "rgba.png"
    pixels = np.zeros((4, 5, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 3] = 128  # half transparent red over black
    Image.fromarray(pixels, "RGBA").save(rgba)
    out = read_image(rgba)
    assert out.shape == (4, 5, 3) and abs(int(out[0, 0, 0]) - 100) <= 1 and out[0, 0, 1] == 0

    palette = tmp_path / "palette.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).convert("P", palette=Image.Palette.ADAPTIVE).save(palette)
    assert tuple(read_image(palette)[0, 0]) == (10, 20, 30)


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # stored picture must be turned 90° clockwise for display
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == (40, 20, 3)
    assert out[5, 10, 0] > 200 and out[35, 10, 0] < 50  # red is now on top
    assert (probe(path).width, probe(path).height) == (20, 40)
