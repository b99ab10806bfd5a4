"""The faceset on disk: round trips, no duplicates, resuming, consent, versions, crash safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.faceset import (BATCH_FACES, FORMAT_VERSION, INDEX_FILE, MASKS_DIR, META_FILE,
                            hash_file, open_faceset)
from doppel.types import Consent

CONSENT = Consent("actor-3", "synthetic identity, no real person", "2026-01-02", "synthetic")


def test_faces_come_back_exactly_as_added(tmp_path, actor_faces):
    folder = tmp_path / "set"
    config = {"size": 64, "detector": "mediapipe", "inputs": ["/clips/actor3.mp4"]}
    with open_faceset(folder, create=True, config=config) as faceset:
        assert all(faceset.add(face) for face in actor_faces)
        assert len(faceset) == len(actor_faces) and faceset.crop_size == 64
    with open_faceset(folder, readonly=True) as faceset:
        back = list(faceset.faces())
        assert faceset.config == config
    assert len(back) == len(actor_faces)
    for given, read in zip(actor_faces, back, strict=True):
        assert read.source_path == given.source_path and read.source_hash == given.source_hash
        assert (read.frame, read.track, read.size) == (given.frame, given.track, given.size)
        assert read.pts == given.pts and isinstance(read.pts, Fraction)
        assert read.box == given.box and read.pose == given.pose
        assert (read.blur, read.score, read.coverage) == (given.blur, given.score, given.coverage)
        for name in ("landmarks", "points68", "matrix", "crop", "mask"):
            ours, theirs = getattr(read, name), getattr(given, name)
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name  # lossless
        assert (folder / read.name).is_file() and (folder / MASKS_DIR / read.name).is_file()
    assert len({face.name for face in back}) == len(back)
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["config"] == config
    assert meta["counts"] == {"faces": 12, "sources": 2, "tracks": 2}


def test_each_distinct_config_is_kept(tmp_path):
    folder, first = tmp_path / "set", {"inputs": (tmp_path / "a.mp4",), "size": 64}
    open_faceset(folder, create=True, config=first).close()
    open_faceset(folder, config=first).close()  # the same settings again: nothing to keep
    with open_faceset(folder, config={"inputs": ["b.mp4"], "size": 64}) as faceset:
        assert faceset.config == {"inputs": ["b.mp4"], "size": 64}
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["earlier_configs"] == [{"inputs": [str(tmp_path / "a.mp4")], "size": 64}]


def test_faces_without_images_and_evenly_sampled(tmp_path, make_face):
    with open_faceset(tmp_path / "set", create=True) as faceset:
        for index in range(10):
            faceset.add(make_face(index))
        plain = list(faceset.faces(images=False))
        assert [face.frame for face in plain] == list(range(10))
        assert all(face.crop is None and face.mask is None for face in plain)
        assert [face.frame for face in faceset.faces(sample=4)] == [1, 3, 6, 8]
        assert [face.frame for face in faceset.faces(sample=1)] == [5]
        assert len(list(faceset.faces(sample=50))) == 10


def test_adding_again_never_duplicates(tmp_path, make_face):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        assert [faceset.add(make_face(i)) for i in range(3)] == [True] * 3
        assert not faceset.add(make_face(1))  # same (source, frame, track), not yet committed
    with open_faceset(folder) as faceset:
        assert [faceset.add(make_face(i)) for i in range(4)] == [False, False, False, True]
        assert faceset.add(make_face(1, track=5))  # another face in the same frame
        assert faceset.add(make_face(1, source="b"))  # the same frame number of another file
        assert len(faceset) == 6
    crops = sorted(p.name for p in folder.glob("*.png"))
    assert len(crops) == 6 and len(list((folder / MASKS_DIR).glob("*.png"))) == 6


def test_progress_survives_reopening(tmp_path, make_face):
    folder, source = tmp_path / "set", make_face(0).source_hash
    with open_faceset(folder, create=True) as faceset:
        assert faceset.progress(source) == (0, False)
        faceset.add(make_face(0))
        faceset.mark_progress(source, make_face(0).source_path, 40, False)
    with open_faceset(folder) as faceset:
        assert faceset.progress(source) == (40, False)
        faceset.mark_progress(source, make_face(0).source_path, 90, True)
    with open_faceset(folder, readonly=True) as faceset:
        assert faceset.progress(source) == (90, True)
        assert faceset.summary().sources[0].faces == 1


def test_consent_records_are_deduplicated_by_id(tmp_path):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        assert faceset.add_consent(CONSENT)
        assert not faceset.add_consent(Consent(*CONSENT.__dict__.values()))  # equal, not same
        assert faceset.add_consent(replace(CONSENT, subject="actor-7"))
    with open_faceset(folder) as faceset:
        assert not faceset.add_consent(CONSENT)
        assert [c.id for c in faceset.consents] == [CONSENT.id,
                                                    replace(CONSENT, subject="actor-7").id]
    meta = json.loads((folder / META_FILE).read_text())
    meta["consents"][0]["statement"] = "anything goes"  # the id no longer matches
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(DoppelError, match="does not match its contents"):
        open_faceset(folder)


@pytest.mark.parametrize("version, advice", [(FORMAT_VERSION + 1, "upgrade doppel"),
                                             (FORMAT_VERSION - 1, "extract the faces again")])
def test_another_format_version_says_which_and_what_to_do(tmp_path, version, advice):
    folder = tmp_path / "set"
    open_faceset(folder, create=True).close()
    meta = json.loads((folder / META_FILE).read_text())
    (folder / META_FILE).write_text(json.dumps({**meta, "format_version": version}))
    with pytest.raises(DoppelError, match=f"format version {version}.*{advice}"):
        open_faceset(folder)


def test_folders_that_are_not_facesets(tmp_path):
    with pytest.raises(DoppelError, match="no faceset at"):
        open_faceset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DoppelError, match="is empty"):
        open_faceset(tmp_path / "empty")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    for create in (False, True):
        with pytest.raises(DoppelError, match="not a faceset.*not empty"):
            open_faceset(tmp_path / "photos", create=create)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DoppelError, match="is a file"):
        open_faceset(tmp_path / "file", create=True)
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["holiday.jpg"]


def test_orphan_files_are_removed_when_opened_for_writing(tmp_path, make_face, monkeypatch):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        faceset.add(make_face(0))
    (folder / "notes.txt").write_text("mine")
    (folder / "s9_cover.png").write_bytes(b"also mine")  # not a face name: left alone
    import doppel.faceset._faceset as module

    def crash(*args):  # the process dies after a face's PNGs, before its row
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "face_row", crash)
    with pytest.raises(KeyboardInterrupt), open_faceset(folder) as faceset:
        faceset.add(make_face(1))
    monkeypatch.undo()
    names = {p.name for p in folder.glob("*.png")}
    assert len(names) == 3  # face 0, the orphan of face 1, s9_cover.png
    with open_faceset(folder, readonly=True) as faceset:  # only looking: nothing removed
        assert len(faceset) == 1
    assert {p.name for p in folder.glob("*.png")} == names
    with open_faceset(folder) as faceset:
        kept = next(faceset.faces(images=False)).name
        assert faceset.add(make_face(1))  # and the face can be added again
    assert {p.name for p in folder.glob("*.png")} == names
    assert (folder / "notes.txt").exists() and (folder / "s9_cover.png").exists()
    with open_faceset(folder) as faceset:
        assert len(faceset) == 2 and kept in {f.name for f in faceset.faces(images=False)}


def test_a_crash_while_writing_a_face_leaves_no_row(tmp_path, make_face, monkeypatch):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        faceset.add(make_face(0))
    import doppel.faceset._faceset as module

    write_png, calls = module._write_png, []

    def die_on_the_mask(path, pixels):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("the disk went away")
        write_png(path, pixels)

    monkeypatch.setattr(module, "_write_png", die_on_the_mask)
    with pytest.raises(OSError), open_faceset(folder) as faceset:
        faceset.add(make_face(1))
    monkeypatch.undo()
    assert len(list(folder.glob("s*.png"))) == 2  # face 0 and face 1's crop, without a mask
    assert_consistent(folder, faces=1)


def test_an_exception_between_adds_keeps_what_was_added(tmp_path, make_face):
    folder = tmp_path / "set"
    with pytest.raises(RuntimeError), open_faceset(folder, create=True) as faceset:
        for index in range(5):
            faceset.add(make_face(index))
            faceset.mark_progress(make_face(0).source_hash, make_face(0).source_path,
                                  index + 1, False)
        raise RuntimeError("the detector crashed")
    assert_consistent(folder, faces=5)
    with open_faceset(folder) as faceset:
        assert faceset.progress(make_face(0).source_hash) == (5, False)


_CHILD = """
import os, sys
sys.path[:0] = [{tests!r}]
from conftest import noise_face
from doppel.faceset import open_faceset
faceset = open_faceset({folder!r}, create=True)
for index in range({count}):
    faceset.add(noise_face(index))
    faceset.mark_progress(noise_face(0).source_hash, "/clips/a.mp4", index + 1, False)
os._exit(1)  # killed: no close, no commit, no clean-up
"""


def test_a_killed_writer_loses_at_most_one_batch(tmp_path, make_face):
    from doppel.faceset._faceset import _MAX_QUEUED

    folder, count = tmp_path / "set", BATCH_FACES + 20
    child = _CHILD.format(tests=os.path.dirname(__file__), folder=str(folder), count=count)
    subprocess.run([sys.executable, "-c", child], check=False, timeout=60)
    # PNGs are written on a thread of their own: a kill may catch a few not yet written.
    assert count - _MAX_QUEUED - 1 <= len(list(folder.glob("*.png"))) <= count
    with open_faceset(folder, readonly=True) as faceset:
        committed = len(faceset)
        # The first batch was committed inside the add that brought the written faces to
        # BATCH_FACES, together with every face added before it; the progress mark of that
        # add's own frame came after, so resuming redoes that frame (its face is not added
        # twice). Progress is never ahead of the faces.
        assert BATCH_FACES <= committed <= BATCH_FACES + _MAX_QUEUED + 1
        assert faceset.progress(make_face(0).source_hash) == (committed - 1, False)
    assert_consistent(folder, faces=committed)  # the orphans of the rest were removed


def assert_consistent(folder, faces: int) -> None:
    """`faces` rows, each with both PNGs, and (after a writing open) no other face PNGs."""
    with open_faceset(folder) as faceset:
        names = [face.name for face in faceset.faces(images=False)]
        assert len(names) == faces
        assert all(face.crop is not None for face in faceset.faces())
    assert sorted(p.name for p in folder.glob("s*.png")) == sorted(names)
    assert sorted(p.name for p in (folder / MASKS_DIR).iterdir()) == sorted(names)


def test_summary_counts_and_yaw_histogram(tmp_path, make_face):
    yaws = [-100.0, -90.0, -75.5, -75.0, -0.1, 0.0, 14.9, 15.0, 89.9, 120.0]
    with open_faceset(tmp_path / "set", create=True) as faceset:
        for index, yaw in enumerate(yaws):
            faceset.add(make_face(index, source="ab"[index % 2], track=index % 3, yaw=yaw))
        faceset.mark_progress(make_face(0, source="c").source_hash, "/clips/c.mp4", 30, True)
        faceset.add_consent(CONSENT)
        summary = faceset.summary()
    assert summary.faces == 10 and summary.crop_size == 16 and summary.coverage == "face"
    assert summary.format_version == 1
    counts = {low: count for low, _, count in summary.yaw_histogram}
    assert [low for low, _, _ in summary.yaw_histogram] == list(range(-90, 90, 15))
    assert counts == {-90: 3, -75: 1, -60: 0, -45: 0, -30: 0, -15: 1, 0: 2, 15: 1, 30: 0,
                      45: 0, 60: 0, 75: 2}
    assert summary.blur_quantiles == (0.0, 2.25, 4.5, 6.75, 9.0)  # blur = index 0..9
    assert [(s.path, s.faces, s.frames_done, s.finished) for s in summary.sources] == [
        ("/clips/a.mp4", 5, 0, False), ("/clips/b.mp4", 5, 0, False),
        ("/clips/c.mp4", 0, 30, True)]
    assert summary.tracks == 6  # sources a and b each hold tracks 0, 1 and 2
    assert summary.consents == (CONSENT,)
    assert json.loads(json.dumps(summary.to_dict()))["consents"][0]["id"] == CONSENT.id


def test_track_embeddings_and_identities(tmp_path, make_face):
    rng = np.random.default_rng(0)
    person = rng.normal(0, 0.09, 128).astype(np.float32)  # |person| ~ 1, like dlib's
    other = rng.normal(0, 0.09, 128).astype(np.float32)
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        assert faceset.summary().identities == 0
        faceset.set_track_embedding("a" * 64, 0, person, 12)
        faceset.set_track_embedding("b" * 64, 3, person + 0.02, 40)  # 0.23 away: same person
        faceset.set_track_embedding("b" * 64, 4, other, 7)
        faceset.set_track_embedding("b" * 64, 4, other, 8)  # replaces
        with pytest.raises(ValueError):
            faceset.set_track_embedding("b" * 64, 5, person[:64], 1)
    with open_faceset(folder, readonly=True) as faceset:
        tracks = faceset.tracks()
        assert [(t.source_hash[0], t.track, t.frames) for t in tracks] == [
            ("a", 0, 12), ("b", 3, 40), ("b", 4, 8)]
        assert np.array_equal(tracks[2].embedding, other)
        assert tracks[0].embedding.dtype == np.float32
        assert faceset.summary().identities == 2


def test_crops_of_another_size_or_coverage_are_refused(tmp_path, make_face):
    with open_faceset(tmp_path / "set", create=True) as faceset:
        faceset.add(make_face(0, size=16))
        assert (faceset.crop_size, faceset.coverage) == (16, "face")
        with pytest.raises(DoppelError, match="holds 16-px 'face' crops.*32-px 'face'"):
            faceset.add(make_face(1, size=32))
    with open_faceset(tmp_path / "set") as faceset:
        with pytest.raises(DoppelError, match="16-px 'head' ones"):
            faceset.add(make_face(1, coverage="head"))
        assert faceset.add(make_face(1))


def test_one_writer_at_a_time_readers_welcome(tmp_path, make_face):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as writer:
        writer.add(make_face(0))
        writer.commit()
        with pytest.raises(DoppelError, match="being written by another"):
            open_faceset(folder)
        with open_faceset(folder, readonly=True) as reader:
            assert len(reader) == 1
            with pytest.raises(ValueError):
                reader.add(make_face(1))
        writer.add(make_face(1))
    with open_faceset(folder) as faceset:
        assert len(faceset) == 2


def test_missing_or_damaged_files_are_one_line_errors(tmp_path, make_face):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True) as faceset:
        faceset.add(make_face(0))
        name = next(faceset.faces(images=False)).name
    (folder / name).unlink()
    with open_faceset(folder, readonly=True) as faceset, \
            pytest.raises(DoppelError, match="missing: restore it"):
        list(faceset.faces())
    (folder / INDEX_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(DoppelError, match="damaged"):
        open_faceset(folder, readonly=True)
    (folder / META_FILE).write_text("{")
    with pytest.raises(DoppelError, match="cannot read"):
        open_faceset(folder)


def test_hash_file(tmp_path):
    path = tmp_path / "clip.bin"
    path.write_bytes(b"abc" * 1_000_000)
    import hashlib

    assert hash_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
    with pytest.raises(DoppelError, match="no such file"):
        hash_file(tmp_path / "missing")


def test_malformed_records_are_bugs_not_user_errors(tmp_path, make_face):
    face = make_face(0)
    with open_faceset(tmp_path / "set", create=True) as faceset:
        for bad in (replace(face, mask=face.mask[:, :8]), replace(face, crop=None),
                    replace(face, points68=face.points68[:5]),
                    replace(face, crop=face.crop.astype(np.float32))):
            with pytest.raises(ValueError):
                faceset.add(bad)
        with pytest.raises(TypeError):
            faceset.add(replace(face, coverage=1.0))
        assert len(faceset) == 0
    assert not list((tmp_path / "set").glob("*.png"))


def test_removing_a_track_removes_its_faces_rows_files_and_identity(tmp_path, make_face):
    with open_faceset(tmp_path / "fs", create=True) as faceset:
        for frame in range(3):
            for track in (0, 1):
                assert faceset.add(replace(make_face(frame), track=track))
        source = make_face(0).source_hash
        faceset.set_track_embedding(source, 1, np.ones(128, np.float32), 3)
        assert faceset.remove_track(source, 1) == 3
    with open_faceset(tmp_path / "fs") as faceset:
        assert sorted({face.track for face in faceset.faces(images=False)}) == [0]
        assert faceset.tracks() == []
    pngs = sorted(path.name for path in (tmp_path / "fs").rglob("*.png"))
    assert len(pngs) == 6 and all("_t0" in name for name in pngs)
