"""Small inline SVG line charts for the demo's report (no plotting library, no scripts)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 40  # the legend sits in the top margin


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Band:
    """A shaded horizontal band (low..high on the y axis) with a label."""

    low: float
    high: float
    label: str


def line_chart(series: list[Series], x_label: str, y_label: str, *,
               y_range: tuple[float, float] | None = None, bands: tuple[Band, ...] = (),
               title: str = "") -> str:
    points = [p for s in series for p in s.points]
    if not points:
        return "<p>(no data)</p>"
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = y_range or (min(p[1] for p in points), max(p[1] for p in points))
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + 1

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title or y_label)}">']
    for band in bands:
        top, bottom = sy(min(band.high, y1)), sy(max(band.low, y0))
        parts.append(f'<rect x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
                     f'height="{bottom - top:.1f}" fill="#f3e2b3" opacity="0.6"/>'
                     f'<text x="{WIDTH - RIGHT - 4}" y="{top + 12:.1f}" text-anchor="end" '
                     f'class="note">{escape(band.label)}</text>')
    for value in _ticks(y0, y1):
        y = sy(value)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_fmt(value)}</text>')
    for value in _ticks(x0, x1):
        x = sx(value)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                     f'{_fmt(value)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                 f'stroke="#555"/><line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}"'
                 f' y2="{HEIGHT - BOTTOM}" stroke="#555"/>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    for index, one in enumerate(series):
        path = " ".join(f"{sx(x):.1f},{sy(min(max(y, y0), y1)):.1f}" for x, y in one.points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{one.colour}" '
                     f'stroke-width="2"/>')
        parts.append(f'<rect x="{LEFT + index * 150}" y="10" width="12" '
                     f'height="3" fill="{one.colour}"/><text x="{LEFT + 16 + index * 150}" '
                     f'y="16">{escape(one.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= high + 1e-9]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:g}"
