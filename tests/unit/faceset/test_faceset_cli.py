"""`doppel faceset info|sheet` on a small faceset of synthetic actors, and the sheet's grid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from doppel.cli import main
from doppel.faceset import open_faceset
from doppel.faceset.sheet import face_tile
from doppel.media import read_image
from doppel.types import Consent

CONSENT = Consent("actor-3", "synthetic identity, no real person", "2026-01-02", "synthetic")


@pytest.fixture
def faceset_path(tmp_path, actor_faces):
    folder = tmp_path / "set"
    with open_faceset(folder, create=True, config={"size": 64}) as faceset:
        for face in actor_faces:
            faceset.add(face)
        faceset.add_consent(CONSENT)
        faceset.mark_progress(actor_faces[0].source_hash, actor_faces[0].source_path, 6, True)
    return folder


def test_info_prints_a_table_and_json(faceset_path, capsys):
    assert main(["faceset", "info", str(faceset_path)]) == 0
    text = capsys.readouterr().out
    assert "12 faces of 64 px, 'face' coverage, 2 sources, 2 tracks" in text
    assert "/clips/actor3.mp4" in text and "/clips/actor7.mp4" in text
    assert "yaw (deg)" in text and "+0 to +15" in text and "median" in text
    assert CONSENT.id[:12] in text and "consent records: 1" in text
    assert main(["faceset", "info", "--json", str(faceset_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["faces"] == 12 and data["crop_size"] == 64 and data["config"] == {"size": 64}
    assert sum(count for _, _, count in data["yaw_histogram"]) == 12
    assert [s["faces"] for s in data["sources"]] == [6, 6]
    assert data["sources"][0]["finished"] and data["sources"][0]["frames_done"] == 6
    assert data["consents"][0]["id"] == CONSENT.id


def test_sheet_shows_evenly_sampled_crops(faceset_path, tmp_path, actor_faces, capsys):
    out = tmp_path / "sheet.png"
    assert main(["faceset", "sheet", str(faceset_path), "-o", str(out), "--count", "5",
                 "--size", "32"]) == 0
    assert "5 of 12 faces" in capsys.readouterr().out
    sheet = read_image(out)
    assert sheet.shape == (2 * 32, 3 * 32, 3)  # 5 tiles: 3 columns, 2 rows
    picked = [actor_faces[i] for i in (1, 3, 6, 8, 10)]  # the middles of 5 runs of 12
    for index, face in enumerate(picked):
        row, column = divmod(index, 3)
        tile = sheet[row * 32:(row + 1) * 32, column * 32:(column + 1) * 32]
        assert np.array_equal(tile, face_tile(face.crop, None, 32))
    assert (sheet[32:, 64:] == 255).all()  # the empty place
    outlined = tmp_path / "outlined.png"
    assert main(["faceset", "sheet", str(faceset_path), "-o", str(outlined), "--count", "5",
                 "--size", "32", "--mask-outline"]) == 0
    green = (read_image(outlined)[:32, :32] == (0, 255, 0)).all(axis=2)
    mask = face_tile(picked[0].mask[:, :, None].repeat(3, axis=2), None, 32)[:, :, 0] >= 128
    edge = mask & ~erode(mask)  # mask pixels with a neighbour outside it
    assert green.sum() > 40 and (green & ~erode(~edge)).sum() >= 0.95 * green.sum()
    assert (green & ~erode(~edge)).sum() >= 0.8 * edge.sum()  # within 1 px of the outline


def erode(mask):
    padded = np.pad(mask, 1)
    return padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & mask


def test_user_errors_are_one_line(faceset_path, tmp_path, capsys):
    assert main(["faceset", "sheet", str(faceset_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "doppel: error: faceset sheet needs -o FILE.png: where to write the sheet")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    assert main(["faceset", "info", str(tmp_path / "photos")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a faceset" in err[0]
    empty = tmp_path / "empty-set"
    open_faceset(empty, create=True).close()
    assert main(["faceset", "sheet", str(empty), "-o", str(tmp_path / "s.png")]) == 2
    assert "has no faces yet" in capsys.readouterr().err
    assert main(["faceset", "info", str(empty)]) == 0
    assert "0 faces" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["faceset", "list", str(faceset_path)])
