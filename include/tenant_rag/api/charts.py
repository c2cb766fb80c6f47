"""Server-rendered SVG charts for the status pages (no JavaScript, no build step)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 590, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 36


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _empty(title: str, chart_id: str) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-label="{escape(title)}: no data" data-points="0">'
        f'<text x="{LEFT}" y="18" class="chart-title">{escape(title)}</text>'
        f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" class="muted">no data yet</text></svg>'
    )


def line_chart(points: Sequence[tuple[datetime, float]], *, title: str, unit: str, chart_id: str) -> str:
    """A time-series line chart; each point carries a ``<title>`` tooltip with its time and value."""
    if not points:
        return _empty(title, chart_id)
    times = [p[0].timestamp() for p in points]
    values = [p[1] for p in points]
    t0, t1 = min(times), max(times)
    v_max = max(values) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (plot_w / 2 if t1 == t0 else (t - t0) / (t1 - t0) * plot_w)

    def y(v: float) -> float:
        return TOP + plot_h - (v / v_max) * plot_h

    coords = [(x(t), y(v)) for t, v in zip(times, values, strict=True)]
    polyline = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-label="{escape(title)}" data-points="{len(points)}" data-max="{v_max:g}">',
        f'<text x="{LEFT}" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" class="grid"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" class="tick">{_fmt(v_max)} {escape(unit)}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h + 4}" text-anchor="end" class="tick">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 12}" class="tick">{points[0][0]:%Y-%m-%d %H:%M:%S}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" class="tick">'
        f"{points[-1][0]:%Y-%m-%d %H:%M:%S} UTC</text>",
        f'<polyline points="{polyline}" class="line"/>',
    ]
    step = max(1, len(coords) // 60)
    for index in range(0, len(coords), step):
        (cx, cy), (when, value) = coords[index], points[index]
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" class="dot">'
            f"<title>{when:%Y-%m-%d %H:%M:%S}: {_fmt(value)} {escape(unit)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, unit: str, chart_id: str) -> str:
    """Horizontal bars, one per label (the admin overview's pages per customer)."""
    if not bars:
        return _empty(title, chart_id)
    row, label_w = 22, 180
    height = TOP + row * len(bars) + 12
    v_max = max(v for _, v in bars) or 1.0
    plot_w = WIDTH - label_w - 80
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' role="img" aria-label="{escape(title)}" data-points="{len(bars)}">',
        f'<text x="8" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(bars):
        top = TOP + index * row
        width = max(1.0, value / v_max * plot_w)
        parts.append(
            f'<text x="{label_w - 8}" y="{top + 14}" text-anchor="end" class="tick">{escape(label[:28])}</text>'
            f'<rect x="{label_w}" y="{top + 3}" width="{width:.1f}" height="{row - 8}" class="bar">'
            f"<title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>"
            f'<text x="{label_w + width + 6:.1f}" y="{top + 14}" class="tick">{_fmt(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
