"""Server-side inline SVG charts (no JavaScript, no CDN): bars, scores over time, Pareto front.

Every function returns :class:`markupsafe.Markup` ready to drop into a template. Labels are
escaped; sizes are in user units and the SVG scales with its container (``viewBox``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#84cc16")


@dataclass
class Series:
    """One series of an x/y chart. ``kind``: 'points', 'line' or 'step' (post-step)."""

    name: str
    points: list[tuple[float, float]]
    kind: str = "points"
    color: str = PALETTE[0]
    titles: list[str] = field(default_factory=list)  # hover text per point


def _fmt(value: float, digits: int = 3) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.5 and len(ticks) < 50:
        ticks.append(round(t, 12))
        t += step
    return ticks


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    value_format: str = "{:.1%}",
    color: str = PALETTE[0],
    label_width: int = 210,
    title: str = "",
    width: int = 560,
) -> Markup:
    """Horizontal bars, one row per (label, value), values >= 0."""
    row_h, pad = 22, 8
    bar_w = width - label_width - 70
    vmax = max((v for _, v in items), default=0.0) or 1.0
    height = row_h * len(items) + 2 * pad
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for i, (label, value) in enumerate(items):
        y = pad + i * row_h
        w = max(0.0, value) / vmax * bar_w
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row_h * 0.68:.1f}" text-anchor="end" '
            f'class="lbl">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'rx="3" fill="{color}"><title>{escape(label)}: '
            f"{escape(value_format.format(value))}</title></rect>"
            f'<text x="{label_width + w + 6:.1f}" y="{y + row_h * 0.68:.1f}" class="val">'
            f"{escape(value_format.format(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def running_best(
    points: Sequence[tuple[float, float]], *, lower_is_better: bool
) -> list[tuple[float, float]]:
    """The Pareto front over time: the points that improved on every earlier one."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not math.isfinite(y):
            continue
        if not front or (y < front[-1][1] if lower_is_better else y > front[-1][1]):
            front.append((x, y))
    return front


def _time_label(ts: float, span: float) -> str:
    dt = datetime.fromtimestamp(ts)
    if span < 2 * 86400:
        return dt.strftime("%H:%M")
    return dt.strftime("%d %b")


def xy_chart(
    series: Sequence[Series],
    *,
    y_label: str = "",
    x_label: str = "",
    x_is_time: bool = True,
    x_integer: bool = False,
    title: str = "",
    empty_text: str = "no data yet",
    width: int = 1100,
    height: int = 340,
) -> Markup:
    """Scores-over-time style chart: axes, grid, points/lines/steps and a legend.

    ``x_integer``: the x axis counts (epochs): its ticks are whole numbers.
    """
    left, right, top, bottom = 64, 16, 30, 44
    pw, ph = width - left - right, height - top - bottom
    xs = [x for s in series for x, y in s.points if math.isfinite(y)]
    ys = [y for s in series for x, y in s.points if math.isfinite(y)]
    head = (
        f'<svg class="chart xy" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title or y_label)}" xmlns="http://www.w3.org/2000/svg">'
    )
    if not xs:
        return Markup(
            head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
            f"{escape(empty_text)}</text></svg>"
        )
    x0, x1 = min(xs), max(xs)
    if x1 == x0:  # one x value: half an hour (or one unit) either side
        pad = 1800 if x_is_time else 1
        x0, x1 = x0 - pad, x1 + pad
    y_ticks = nice_ticks(min(ys), max(ys))
    y0, y1 = y_ticks[0], y_ticks[-1]
    if y1 == y0:
        y1 = y0 + 1

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    parts = [head]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for t in y_ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt(t)}</text>"
        )
    n_x = 6
    x_ticks = [x0 + (x1 - x0) * i / n_x for i in range(n_x + 1)]
    if x_integer:
        step = max(1, math.ceil((x1 - x0) / n_x))
        x_ticks = [float(v) for v in range(math.ceil(x0), math.floor(x1) + 1, step)]
    for xv in x_ticks:
        label = _time_label(xv, x1 - x0) if x_is_time else _fmt(xv)
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{top + ph + 18}" text-anchor="middle" class="tick">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>'
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>'
    )
    if x_label:
        parts.append(
            f'<text x="{left + pw / 2}" y="{top + ph + 36}" text-anchor="middle" '
            f'class="axis-label">{escape(x_label)}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" '
            f'text-anchor="middle" class="axis-label">{escape(y_label)}</text>'
        )
    for s in series:
        pts = [(x, y) for x, y in s.points if math.isfinite(y)]
        if not pts:
            continue
        if s.kind in ("line", "step"):
            coords: list[tuple[float, float]] = []
            for i, (x, y) in enumerate(pts):
                if s.kind == "step" and i:
                    coords.append((sx(x), sy(pts[i - 1][1])))
                coords.append((sx(x), sy(y)))
            if s.kind == "step":
                coords.append((left + pw, sy(pts[-1][1])))
            d = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            parts.append(
                f'<polyline points="{d}" fill="none" stroke="{s.color}" stroke-width="2.2" '
                f'stroke-linejoin="round"/>'
            )
        radius = 3.2 if s.kind == "points" else 2.6
        opacity = "0.55" if s.kind == "points" else "1"
        for i, (x, y) in enumerate(pts):
            tip = s.titles[i] if i < len(s.titles) else f"{s.name}: {_fmt(y, 4)}"
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{radius}" fill="{s.color}" '
                f'fill-opacity="{opacity}"><title>{escape(tip)}</title></circle>'
            )
    lx = left + 8
    for s in series:
        parts.append(
            f'<rect x="{lx}" y="8" width="12" height="12" rx="2" fill="{s.color}"/>'
            f'<text x="{lx + 16}" y="18" class="legend">{escape(s.name)}</text>'
        )
        lx += 28 + 7 * len(s.name)
    parts.append("</svg>")
    return Markup("".join(parts))
