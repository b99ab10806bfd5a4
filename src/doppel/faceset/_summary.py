"""What is in a faceset, at a glance: counts per source, pose spread, sharpness, identities."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from doppel.faceset._index import track_record
from doppel.faceset._meta import Meta
from doppel.types import Consent

YAW_BIN = 15  # degrees
YAW_LIMIT = 90  # bins cover [-90, 90); yaws beyond fall into the end bins


@dataclass(frozen=True)
class SourceSummary:
    """One source: its faces in the faceset and how far extraction got through it."""

    path: str
    hash: str  # sha256 hex of the file's bytes
    faces: int
    frames_done: int
    finished: bool


@dataclass(frozen=True)
class FacesetSummary:
    """Counts and spreads of a faceset.

    crop_size: crop side in pixels, coverage: the aligner's framing (None while empty). tracks: distinct (source, track) pairs
    among tracked faces. identities: groups of track embeddings as extract groups them
    (`doppel.faces.select.group_identities`), 0 when no track has an embedding.
    yaw_histogram: (low, high, faces) per 15-degree bin over [-90, 90) degrees; faces turned
    further count in the end bins. blur_quantiles: min, 25 %, median, 75 %, max of the blur
    measure (None while empty).
    """

    path: Path
    format_version: int
    faces: int
    crop_size: int | None
    coverage: str | None
    sources: tuple[SourceSummary, ...]
    tracks: int
    identities: int
    yaw_histogram: tuple[tuple[int, int, int], ...]
    blur_quantiles: tuple[float, float, float, float, float] | None
    consents: tuple[Consent, ...]
    created: str
    updated: str
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (consent records carry their ids)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["consents"] = [{"id": c.id, **asdict(c)} for c in self.consents]
        return data


def summarize(folder: Path, connection: sqlite3.Connection, meta: Meta) -> FacesetSummary:
    yaw = _column(connection, "yaw")
    blur = _column(connection, "blur")
    framing = connection.execute("SELECT size, coverage FROM faces LIMIT 1").fetchone()
    tracks = connection.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT source_hash, track FROM faces WHERE track >= 0)"
    ).fetchone()[0]
    return FacesetSummary(
        path=folder, format_version=meta.format_version, faces=len(yaw),
        crop_size=None if framing is None else int(framing[0]),
        coverage=None if framing is None else str(framing[1]), sources=_sources(connection),
        tracks=int(tracks), identities=_count_identities(connection),
        yaw_histogram=yaw_histogram(yaw), blur_quantiles=_quantiles(blur),
        consents=meta.consents, created=meta.created, updated=meta.updated, config=meta.config,
    )


def yaw_histogram(yaw: np.ndarray) -> tuple[tuple[int, int, int], ...]:
    """Faces per 15-degree yaw bin over [-90, 90); yaws outside count in the end bins."""
    edges = np.arange(-YAW_LIMIT, YAW_LIMIT + 1, YAW_BIN)
    bins = np.clip(np.floor((yaw + YAW_LIMIT) / YAW_BIN), 0, len(edges) - 2).astype(int)
    counts = np.bincount(bins, minlength=len(edges) - 1)
    return tuple((int(low), int(low + YAW_BIN), int(count)) for low, count in zip(edges, counts))


def _column(connection: sqlite3.Connection, name: str) -> np.ndarray:
    # One float per face: a million faces is 8 MB, so reading the column whole is fine.
    return np.array([row[0] for row in connection.execute(f"SELECT {name} FROM faces")],
                    dtype=np.float64)


def _quantiles(values: np.ndarray) -> tuple[float, float, float, float, float] | None:
    if not len(values):
        return None
    low, q25, median, q75, high = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return float(low), float(q25), float(median), float(q75), float(high)


def _sources(connection: sqlite3.Connection) -> tuple[SourceSummary, ...]:
    rows = connection.execute(
        "SELECT s.path, s.hash, COUNT(f.id), s.frames_done, s.finished FROM sources s "
        "LEFT JOIN faces f ON f.source_hash = s.hash GROUP BY s.id ORDER BY s.id"
    ).fetchall()
    return tuple(SourceSummary(path, hash_, int(faces), int(done), bool(finished))
                 for path, hash_, faces, done, finished in rows)


def _count_identities(connection: sqlite3.Connection) -> int:
    """How many people the track embeddings show (grouped as extract groups them)."""
    from doppel.faces.select import group_identities

    rows = connection.execute("SELECT source_hash, track, embedding, frames FROM tracks")
    embeddings = [track_record(row).embedding for row in rows]
    return len(set(group_identities(embeddings))) if embeddings else 0
