"""index.sqlite: one row per face, one per track embedding, one per source (for resuming)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from doppel.faces.identity import EMBEDDING_SIZE
from doppel.faceset._meta import FORMAT_VERSION
from doppel.faceset._records import (FaceRecord, TrackRecord, float32_array, float32_blob,
                                     float64_array, float64_blob, pts_text, pts_value)

INDEX_FILE = "index.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,          -- a short number for file names, fixed once committed
    hash TEXT NOT NULL UNIQUE,       -- sha256 hex of the file's bytes
    path TEXT NOT NULL,              -- where it was last read from
    frames_done INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    source_path TEXT NOT NULL,
    source_hash TEXT NOT NULL REFERENCES sources(hash),
    frame INTEGER NOT NULL,
    pts TEXT,                        -- "num/den" seconds, exact; NULL for stills
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    num_landmarks INTEGER NOT NULL,
    landmarks BLOB NOT NULL,         -- float32 little-endian (num_landmarks, 2)
    points68 BLOB NOT NULL,          -- float32 little-endian (68, 2)
    matrix BLOB NOT NULL,            -- float64 little-endian (2, 3), source -> crop pixels
    size INTEGER NOT NULL,
    coverage TEXT NOT NULL,          -- the aligner's framing name
    yaw REAL NOT NULL, pitch REAL NOT NULL, roll REAL NOT NULL,
    blur REAL NOT NULL,
    score REAL NOT NULL,
    track INTEGER NOT NULL,
    crop TEXT NOT NULL UNIQUE,       -- file name inside the faceset
    mask TEXT NOT NULL UNIQUE,
    UNIQUE (source_hash, frame, track)
);
CREATE TABLE IF NOT EXISTS tracks (
    source_hash TEXT NOT NULL,
    track INTEGER NOT NULL,
    embedding BLOB NOT NULL,         -- float32 little-endian (128,)
    frames INTEGER NOT NULL,         -- how many faces the embedding was made from
    PRIMARY KEY (source_hash, track)
);
"""

_FACE_COLUMNS = ("source_path, source_hash, frame, pts, x0, y0, x1, y1, num_landmarks, "
                 "landmarks, points68, matrix, size, coverage, yaw, pitch, roll, blur, score, "
                 "track, crop, mask")
FACE_SELECT = f"SELECT id, {_FACE_COLUMNS} FROM faces"
FACE_INSERT = (f"INSERT INTO faces ({_FACE_COLUMNS}) VALUES "
               f"({', '.join('?' * len(_FACE_COLUMNS.split(', ')))})")


def connect(path: Path, create: bool, readonly: bool) -> sqlite3.Connection:
    """Open the index; transactions are begun and committed explicitly (autocommit mode)."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    if readonly:
        # Not a read-only open (mode=ro): after a crash SQLite must be able to roll back the
        # hot journal the writer left, which takes write access; our code never writes.
        connection.execute("PRAGMA query_only = ON")
    elif create:
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    return connection


def index_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def face_row(record: FaceRecord, crop: str, mask: str) -> tuple[Any, ...]:
    return (str(record.source_path), record.source_hash, int(record.frame),
            pts_text(record.pts), *map(float, record.box), len(record.landmarks),
            float32_blob(record.landmarks), float32_blob(record.points68),
            float64_blob(record.matrix), int(record.size), str(record.coverage),
            *map(float, record.pose), float(record.blur), float(record.score), int(record.track),
            crop, mask)


def face_record(row: tuple[Any, ...]) -> FaceRecord:
    """A FaceRecord without its pictures from a FACE_SELECT row."""
    (_, source_path, source_hash, frame, pts, x0, y0, x1, y1, count, landmarks, points68,
     matrix, size, coverage, yaw, pitch, roll, blur, score, track, crop, _mask) = row
    return FaceRecord(
        source_path=Path(source_path), source_hash=source_hash, frame=frame,
        pts=pts_value(pts), box=(x0, y0, x1, y1),
        landmarks=float32_array(landmarks, (count, 2)),
        points68=float32_array(points68, (68, 2)), matrix=float64_array(matrix, (2, 3)),
        size=size, coverage=coverage, pose=(yaw, pitch, roll), blur=blur, score=score,
        track=track, crop=None, mask=None, name=crop,
    )


def track_row(record: TrackRecord) -> tuple[Any, ...]:
    return (record.source_hash, int(record.track), float32_blob(record.embedding),
            int(record.frames))


def track_record(row: tuple[Any, ...]) -> TrackRecord:
    source_hash, track, embedding, frames = row
    return TrackRecord(source_hash, track, float32_array(embedding, (EMBEDDING_SIZE,)), frames)
