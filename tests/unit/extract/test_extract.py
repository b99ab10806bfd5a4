"""doppel extract: synthetic clips (with their truth) and the one real photo in, facesets out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from doppel.cli import main
from doppel.extract import ExtractConfig, extract
from doppel.faces import points68_from_mediapipe
from doppel.faces.align import template_points
from doppel.faceset import open_faceset
from doppel.runtime import Runtime

RUNTIME = Runtime(progress=False)


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory) -> Path:
    """A 3 s, 10 fps, 320 px doppel synth clip of one pool actor, with its truth beside it."""
    folder = tmp_path_factory.mktemp("clips")
    assert main(["-q", "synth", "-o", str(folder), "--actors", "1", "--seconds", "3",
                 "--fps", "10", "--size", "320"]) == 0
    return next(folder.glob("*.mp4"))


@pytest.fixture(scope="session")
def crossing_clip(tmp_path_factory) -> tuple[Path, Path, list]:
    """Two actors crossing (6 s, 10 fps, 640x360) as a watermarked clip, a reference photo of
    the first one, and the truth per frame."""
    from doppel.bench.extract import write_clip, write_marked_image
    from doppel.synth import (Cast, crossing_performances, neutral_performance, random_actor,
                              random_scene, render, render_group)
    from doppel.synth.pool import POOL_SEEDS

    folder = tmp_path_factory.mktemp("crossing")
    far, near = crossing_performances(6.0, 10.0, 3)
    cast = [Cast(random_actor(POOL_SEEDS[4]), far), Cast(random_actor(POOL_SEEDS[5]), near)]
    truth = list(render_group(cast, random_scene(4), (640, 360)))
    clip = write_clip(folder / "crossing.mp4", (frames[0].rgb for frames in truth), 10.0)
    photo = next(render(random_actor(POOL_SEEDS[4]), neutral_performance(1, 25.0),
                        random_scene(77), 320))
    reference = write_marked_image(folder / "reference.png", photo.rgb)
    return clip, reference, [tuple(t.landmarks for t in frames) for frames in truth]


def faces_of(path: Path) -> list:
    with open_faceset(path, readonly=True) as faceset:
        return list(faceset.faces(images=False))


def test_a_synthetic_clip_becomes_an_aligned_faceset_with_its_consent(synth_clip, tmp_path):
    summary = extract(ExtractConfig(inputs=(synth_clip,), output=tmp_path / "fs", size=128),
                      RUNTIME)
    assert summary.kept == summary.frames == 30
    truth = np.load(synth_clip.with_suffix(".truth.npz"))
    template = template_points(128, "whole-face")
    with open_faceset(tmp_path / "fs", readonly=True) as faceset:
        assert [c.kind for c in faceset.consents] == ["synthetic"]
        assert faceset.consents[0].id == str(truth["consent_id"])
        faces = list(faceset.faces())
    for face in faces:
        true68 = points68_from_mediapipe(truth["landmarks"][face.frame])
        eyes = np.linalg.norm(true68[36] - true68[45])
        assert np.linalg.norm(face.points68 - true68, axis=1).mean() / eyes < 0.08
        in_crop = face.points68 @ face.matrix[:, :2].T + face.matrix[:, 2]
        if abs(face.pose[0]) < 15:  # frontal faces put their eyes on the template's
            assert np.abs(in_crop[36:48] - template[36:48]).max() < 0.06 * 128
        assert face.crop.shape == (128, 128, 3) and face.mask[64, 64] == 255
        assert face.mask[0, 0] == 0 and face.track == 0


def test_the_astronaut_is_found_aligned_and_masked(tmp_path):
    from skimage.data import astronaut

    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(photo)
    assert main(["-q", "extract", str(photo), "-o", str(tmp_path / "fs"), "--consent",
                 "public-domain NASA portrait", "--size", "256"]) == 0
    [face] = list(open_faceset(tmp_path / "fs", readonly=True).faces())
    # Her pupils (read off a 2x enlargement of the photo by eye: ~(202, 101) and ~(248, 103)
    # px) are where the template puts eyes, and her face is inside the mask.
    eyes = np.array([[202.0, 101.0], [248.0, 103.0]])
    in_crop = eyes @ face.matrix[:, :2].T + face.matrix[:, 2]
    template = template_points(256, "whole-face")
    assert np.abs(in_crop - [template[36:42].mean(0), template[42:48].mean(0)]).max() < 10
    assert 0.25 < (face.mask > 127).mean() < 0.7
    assert face.mask[int(in_crop[0, 1]), int(in_crop[0, 0])] == 255


def test_ctrl_c_keeps_what_was_added_and_a_rerun_continues(synth_clip, tmp_path, monkeypatch):
    from doppel.extract import pipeline

    opened = pipeline._open_detector

    def interrupted(config, still):
        detector = opened(config, still)
        real, calls = detector.detect, [0]

        def detect(rgb):
            calls[0] += 1
            if calls[0] > 12:
                raise KeyboardInterrupt
            return real(rgb)

        detector.detect = detect
        return detector

    monkeypatch.setattr(pipeline, "_open_detector", interrupted)
    config = ExtractConfig(inputs=(synth_clip,), output=tmp_path / "fs", size=64)
    with pytest.raises(KeyboardInterrupt):
        extract(config, RUNTIME)
    assert 0 < len(faces_of(tmp_path / "fs")) <= 12
    monkeypatch.setattr(pipeline, "_open_detector", opened)
    again = extract(config, RUNTIME)
    frames = [face.frame for face in faces_of(tmp_path / "fs")]
    assert sorted(frames) == list(range(30))  # every frame once, none twice
    assert again.dropped["already in the faceset"] == 30 - again.kept


def test_a_reference_keeps_one_person_of_two(crossing_clip, tmp_path):
    clip, reference, truth = crossing_clip
    summary = extract(ExtractConfig(inputs=(clip,), output=tmp_path / "fs", size=64,
                                    reference=reference, consent="test"), RUNTIME)
    faces = faces_of(tmp_path / "fs")
    owners = [nearest(face, truth[face.frame]) for face in faces]
    assert owners.count(0) >= 0.8 * len(truth) and owners.count(1) == 0
    assert summary.dropped["other person"] > 10


def test_without_a_reference_the_largest_group_stays_and_all_keeps_everyone(crossing_clip,
                                                                          tmp_path):
    clip, _, truth = crossing_clip
    grouped = extract(ExtractConfig(inputs=(clip,), output=tmp_path / "one", size=64,
                                    consent="test"), RUNTIME)
    owners = {nearest(face, truth[face.frame]) for face in faces_of(tmp_path / "one")}
    assert len(owners) == 1 and "other person(s) removed" in " ".join(grouped.lines())
    extract(ExtractConfig(inputs=(clip,), output=tmp_path / "all", size=64, all=True,
                          consent="test"), RUNTIME)
    assert {nearest(face, truth[face.frame]) for face in faces_of(tmp_path / "all")} == {0, 1}


def nearest(face, landmarks_per_actor) -> int:
    distances = [np.linalg.norm(face.points68 - points68_from_mediapipe(points), axis=1).mean()
                 for points in landmarks_per_actor]
    return int(np.argmin(distances))


def test_photos_of_every_kind_and_the_summary_of_what_was_dropped(tmp_path, capsys):
    from skimage.data import astronaut

    rgb = astronaut()
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(rgb).convert("L").save(folder / "a_grey.png")
    Image.fromarray(rgb).convert("RGBA").save(folder / "b_rgba.png")
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(folder / "c_16bit.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored turned the other way
    Image.fromarray(np.rot90(rgb, 1).copy()).save(folder / "d_exif.jpg", exif=exif)
    Image.fromarray(np.zeros((200, 300, 3), np.uint8)).save(folder / "e_empty.png")
    Image.fromarray(rgb[::8, ::8].copy()).save(folder / "f_tiny.png")
    Image.fromarray(np.concatenate([rgb, rgb], axis=1)).save(folder / "g_two.png")
    assert main(["extract", str(folder), "-o", str(tmp_path / "fs"), "--all", "--consent",
                 "test photos", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "frames without a face: 1" in out and "photos with several faces: 1" in out
    assert "dropped, too small: 1" in out
    kept = {Path(face.source_path).stem for face in faces_of(tmp_path / "fs")}
    assert kept == {"a_grey", "b_rgba", "c_16bit", "d_exif", "g_two"}


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a picture")
    cases = [
        ([str(tmp_path / "missing.mp4")], "does not exist"),
        ([str(tmp_path / "notes.txt")], "not"),
        ([str(tmp_path / "empty.mp4")], ""),
    ]
    (tmp_path / "empty.mp4").write_bytes(b"")
    for inputs, words in cases:
        assert main(["extract", *inputs, "-o", str(tmp_path / "fs")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("doppel: error:") and err.count("\n") == 1 and words in err
    photo = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(photo)
    assert main(["extract", str(photo), "-o", str(tmp_path / "fs")]) == 2
    assert "no face was found" in capsys.readouterr().err
    assert main(["extract", str(photo), "-o", str(tmp_path / "fs"),
                 "--reference", str(tmp_path / "nobody.png")]) == 2
    assert "reference photo" in capsys.readouterr().err


def test_a_consent_file_is_recorded(tmp_path):
    from skimage.data import astronaut

    photo = tmp_path / "a.png"
    Image.fromarray(astronaut()).save(photo)
    record = {"subject": "E. C.", "statement": "may be used for testing doppel",
              "date": "2026-11-20", "kind": "person"}
    (tmp_path / "consent.json").write_text(json.dumps(record))
    extract(ExtractConfig(inputs=(photo,), output=tmp_path / "fs", size=64,
                          consent=str(tmp_path / "consent.json")), RUNTIME)
    with open_faceset(tmp_path / "fs", readonly=True) as faceset:
        [consent] = faceset.consents
    assert (consent.subject, consent.date, consent.kind) == ("E. C.", "2026-11-20", "person")
    assert replace(consent).id == consent.id
