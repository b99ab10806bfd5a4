"""The demo's stages, each remembered by a hash of its settings and of every stage before it,
so a rerun redoes only what changed (and what depends on it)."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES_FILE = "stages.json"

Result = dict[str, Any]


@dataclass
class StageTime:
    name: str
    title: str
    seconds: float
    reused: bool


@dataclass
class Stages:
    """Runs stages in order. A stage is reused when an earlier run finished it with the same
    key (its settings, the keys of the stages before it, doppel's version) and its outputs
    still exist; otherwise its outputs are removed and it runs again. `fresh` forgets every
    earlier run."""

    folder: Path
    total: int
    fresh: bool = False
    say: Callable[[str], None] = print
    times: list[StageTime] = field(default_factory=list)
    _records: dict[str, Result] = field(default_factory=dict)
    _chain: str = ""

    def __post_init__(self) -> None:
        path = self.folder / STAGES_FILE
        if not self.fresh and path.is_file():
            try:
                self._records = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._records = {}  # unreadable: redo everything rather than guess

    def run(self, name: str, title: str, settings: Result, outputs: tuple[Path, ...],
            work: Callable[[], Result]) -> Result:
        from doppel import __version__

        key = stage_key({"stage": name, "settings": settings, "before": self._chain,
                         "version": __version__})
        number = f"[{len(self.times) + 1}/{self.total}]"
        record = self._records.get(name)
        if record is not None and record.get("key") == key and \
                all(path.exists() for path in outputs):
            self.say(f"{number} {title}: reused (finished by an earlier run in "
                     f"{record['seconds']:.0f} s; --fresh redoes it)")
            self.times.append(StageTime(name, title, record["seconds"], True))
            self._chain = stage_key({"key": key, "run": record.get("run", "")})
            return record["result"]
        self.say(f"{number} {title}")
        self._records.pop(name, None)
        self._save()  # an interrupted stage is never taken for a finished one
        for path in outputs:
            _remove(path)
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        # Each run of a stage is new (training is not repeatable to the bit): the stages
        # after it depend on this run, not only on its settings.
        run = secrets.token_hex(8)
        self._records[name] = {"key": key, "run": run, "seconds": seconds, "result": result}
        self._save()
        self.times.append(StageTime(name, title, seconds, False))
        self._chain = stage_key({"key": key, "run": run})
        return result

    def _save(self) -> None:
        from doppel.files import atomic_path

        with atomic_path(self.folder / STAGES_FILE) as temp:
            temp.write_text(json.dumps(self._records, indent=1, default=str) + "\n",
                            encoding="utf-8")


def stage_key(settings: Result) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
