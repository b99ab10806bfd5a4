"""The local ledger: watermark id -> the manifest that was signed for it.

Re-encoding or a screenshot strips the C2PA manifest but not the watermark; the ledger lets
`doppel verify` recover the original credentials from the watermark id alone.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LEDGER_FILE = "ledger.sqlite"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS marks (watermark_id TEXT PRIMARY KEY, file TEXT NOT NULL,"
        " created TEXT NOT NULL, manifest TEXT NOT NULL)"
    )
    return connection


def record(ledger: Path, watermark_id: int, file: Path, manifest: dict[str, Any]) -> None:
    """Remember the manifest signed into `file` under its watermark id."""
    Path(ledger).parent.mkdir(parents=True, exist_ok=True)
    with closing(_connect(ledger)) as connection, connection:
        connection.execute(
            "INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?)",
            (f"{watermark_id:016x}", str(file), datetime.now(timezone.utc).isoformat(),
             json.dumps(manifest, sort_keys=True)),
        )


def look_up(ledger: Path, watermark_id: int) -> tuple[str, dict[str, Any]] | None:
    """(file, manifest) recorded for `watermark_id`, or None."""
    if not Path(ledger).exists():
        return None
    with closing(_connect(ledger)) as connection:
        row = connection.execute("SELECT file, manifest FROM marks WHERE watermark_id = ?",
                                 (f"{watermark_id:016x}",)).fetchone()
    return None if row is None else (row[0], json.loads(row[1]))
