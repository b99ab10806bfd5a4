"""`doppel faceset info|sheet`: what a faceset holds, as a table or as a picture."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from doppel.config import check_fields
from doppel.errors import DoppelError
from doppel.faceset._faceset import open_faceset
from doppel.faceset._summary import FacesetSummary
from doppel.faceset.sheet import face_tile
from doppel.files import check_output_path
from doppel.runtime import Runtime

_BAR_WIDTH = 40


@dataclass(frozen=True)
class FacesetConfig:
    action: Literal["info", "sheet"] = field(metadata={
        "help": "info: print counts, sources, pose spread, blur and consent records; "
                "sheet: write a contact sheet of the crops", "positional": True,
        "metavar": "{info,sheet}"})
    faceset: Path = field(metadata={"help": "faceset folder", "positional": True})
    output: Path | None = field(default=None, metadata={
        "help": "sheet: image to write (.png, .jpg, .webp)", "short": "-o"})
    count: int = field(default=48, metadata={
        "help": "sheet: how many faces, evenly spread over the faceset", "min": 1,
        "max": 1000, "metavar": "N"})
    size: int = field(default=128, metadata={"help": "sheet: tile side in pixels", "min": 16,
                                             "max": 1024, "metavar": "PX"})
    mask_outline: bool = field(default=False, metadata={
        "help": "sheet: draw the outline of each face's mask"})
    json: bool = field(default=False, metadata={"help": "info: print the summary as JSON"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.action == "sheet" and self.output is None:
            raise DoppelError("faceset sheet needs -o FILE.png: where to write the sheet")


def run_faceset(config: FacesetConfig, runtime: Runtime) -> int:
    if config.action == "info":
        return run_info(config)
    return run_sheet(config)


def run_info(config: FacesetConfig) -> int:
    with open_faceset(config.faceset, readonly=True) as faceset:
        summary = faceset.summary()
    if config.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print("\n".join(format_summary(summary)))
    return 0


def run_sheet(config: FacesetConfig) -> int:
    """Write a contact sheet of the faceset's crops, evenly sampled.

    The sheet shows the user's own input faces (real or synthetic, as extracted), not media
    doppel generated, so it carries no watermark or manifest.
    """
    from doppel.media import tile_grid, write_image

    assert config.output is not None  # FacesetConfig checks it
    check_output_path(config.output)
    with open_faceset(config.faceset, readonly=True) as faceset:
        total = len(faceset)
        if not total:
            raise DoppelError(f"faceset {config.faceset} has no faces yet: extract some first")
        tiles = [face_tile(face.crop, face.mask if config.mask_outline else None, config.size)
                 for face in faceset.faces(images=True, sample=config.count)]
    write_image(config.output, tile_grid(tiles))
    print(f"wrote {config.output}: {len(tiles)} of {total} faces")
    return 0


def format_summary(summary: FacesetSummary) -> list[str]:
    """The summary as lines of a readable table."""
    size = f" of {summary.crop_size} px, {summary.coverage!r} coverage" if summary.faces else ""
    head = (f"faceset {summary.path} (format {summary.format_version}): {summary.faces} faces"
            f"{size}, {len(summary.sources)} sources, {summary.tracks} tracks, "
            f"{summary.identities} identities")
    lines = [head, f"created {summary.created}, updated {summary.updated}", ""]
    if summary.sources:
        lines += _table(("source", "faces", "frames done", "finished", "sha256"),
                        [(s.path, s.faces, s.frames_done, "yes" if s.finished else "no",
                          s.hash[:12]) for s in summary.sources]) + [""]
    if summary.faces:
        most = max(count for _, _, count in summary.yaw_histogram)
        lines += _table(("yaw (deg)", "faces", ""),
                        [(f"{low:+d} to {high:+d}", count,
                          "#" * round(_BAR_WIDTH * count / most)) for low, high, count
                         in summary.yaw_histogram]) + [""]
        low, q25, median, q75, high = summary.blur_quantiles or (0.0,) * 5
        lines.append(f"blur: min {low:.4g}, 25% {q25:.4g}, median {median:.4g}, "
                     f"75% {q75:.4g}, max {high:.4g}")
    lines.append(f"consent records: {len(summary.consents)}")
    lines += [f"  {c.id[:12]}  {c.kind}  {c.date}  {c.subject}: {c.statement}"
              for c in summary.consents]
    return lines


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    """Left-aligned text, right-aligned numbers, columns as wide as their widest cell."""
    cells = [header] + [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) for i in range(len(header))]
    return ["  ".join((cell.rjust(width) if number else cell.ljust(width))
                      for cell, width, number in zip(row, widths, numeric)).rstrip()
            for row in cells]
