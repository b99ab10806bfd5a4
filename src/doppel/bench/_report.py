"""What every benchmark shares: its input clip, machine facts, progress lines, result files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from doppel.errors import DoppelError
from doppel.files import atomic_path
from doppel.media import probe
from doppel.media.testclip import make_test_clip
from doppel.runtime import Runtime

Say = Callable[[str], None]


def progress_printer(suite: str, runtime: Runtime) -> Say:
    def say(message: str) -> None:
        if runtime.progress:
            print(f"{suite}: {message}", file=sys.stderr, flush=True)

    return say


def cached_clip(path: Path, seconds: int, size: tuple[int, int], fps: Fraction,
                say: Say) -> Path:
    """The calibration clip at `path`, made once and reused while its length and size fit."""
    if path.exists():
        try:
            info = probe(path)
            if info.duration == seconds and (info.width, info.height) == size:
                return path
        except DoppelError:
            pass  # a broken leftover: make it again
    say(f"making a {seconds} s test clip at {path} (once)")
    return make_test_clip(path, seconds=seconds, size=size, fps=fps)


def machine_facts(suite: str, quick: bool) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": first_line(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(first_line(["git", "status", "--porcelain"])),
        "command": f"doppel bench {suite}" + (" --quick" if quick else ""),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def first_line(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    lines = done.stdout.splitlines()
    return lines[0] if lines else ""


def verdict(passed: bool | None) -> str:
    return "report only" if passed is None else ("PASS" if passed else "FAIL")


# Environment for a child process timed on one core: one BLAS/OpenMP thread each.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def bar_lines(bars: list[dict[str, Any]], digits: int = 3, width: int = 16) -> list[str]:
    """The judged bars as terminal lines: name, value, limit, verdict, what was measured."""
    return [f"  {bar['name']:<{width}} {_number(bar['value'], digits):>8} {bar['limit']:<8} "
            f"{verdict(bar['pass'])}  {bar['what']}" for bar in bars]


def bar_table(bars: list[dict[str, Any]], digits: int = 3) -> list[str]:
    """The judged bars as a markdown table."""
    return ["| bar | measure | value | limit | result |", "|---|---|---:|---|---|",
            *(f"| {bar['name']} | {bar['what']} | {_number(bar['value'], digits)} "
              f"| {bar['limit']} | {verdict(bar['pass'])} |" for bar in bars)]


def markdown_heading(suite: str, machine: dict[str, Any], versions: str,
                     seconds: float | None = None) -> list[str]:
    """A results file's title and the line saying which command ran where, on what commit."""
    took = f"; {seconds:.0f} s" if seconds is not None else ""
    return [f"# {suite} benchmark", "",
            f"`{machine['command']}` on {machine['date_utc']}, commit {machine['git_commit']}"
            f"{' (uncommitted changes)' if machine['git_dirty'] else ''}: {machine['cpu']}, "
            f"{machine['cores']} cores, Python {machine['python']}, {versions}{took}.", ""]


def write_results(suite: str, results: dict[str, Any], markdown: str, folder: Path) -> None:
    """`folder`/SUITE.json (every raw number) and SUITE.md (the tables), each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in ((f"{suite}.json", json.dumps(results, indent=2) + "\n"),
                       (f"{suite}.md", markdown)):
        with atomic_path(folder / name) as temp:
            temp.write_text(text)
