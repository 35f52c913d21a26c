"""The planner's picture: every buffer as a red/yellow/green bar with its net-flow position, and
each work centre's load against its capacity per day.

Drawn with matplotlib (Agg, no display needed); the file's suffix picks SVG or PNG.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "render_chart"]

FORMATS = (".svg", ".png")
_ZONE_COLOURS = {"red": "#d62728", "yellow": "#f2c029", "green": "#2ca02c"}
_STATUS_COLOURS = {
    "dark_red": "#7f0000",
    "red": "#d62728",
    "yellow": "#b8860b",
    "green": "#2ca02c",
    "over_top_of_green": "#1f77b4",
}
_MAX_ITEMS = 40
_MAX_CENTRES = 6


def render_chart(buffers: list[dict[str, Any]], plan: dict[str, Any], out: Path, days: int) -> int:
    """Write the chart to ``out``; returns the number of items drawn."""
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out}: the chart is written as .svg or .png, not {out.suffix or 'no suffix'!r}")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    planned = [b for b in buffers if "zones" in b][:_MAX_ITEMS]
    centres = sorted(plan["load"])[:_MAX_CENTRES]
    rows = 1 + len(centres)
    heights = [max(2.5, 0.32 * len(planned) + 1)] + [2.2] * len(centres)
    figure, axes = pyplot.subplots(
        rows, 1, figsize=(11, sum(heights) + 0.6), height_ratios=heights, squeeze=False
    )
    _buffers(axes[0][0], planned, plan["today"])
    start = date.fromisoformat(plan["today"])
    for axis, centre in zip((a[0] for a in axes[1:]), centres, strict=False):
        _load(axis, centre, plan["load"][centre], start, days)
    figure.tight_layout()
    figure.savefig(out, format=out.suffix.lower().lstrip("."))
    pyplot.close(figure)
    return len(planned)


def _buffers(axis: Any, buffers: list[dict[str, Any]], today: str) -> None:
    """Zones as shares of top of green (100 %), the net-flow position as a marker on each bar."""
    axis.set_title(f"Buffer status on {today} (net flow as % of top of green; most urgent on top)")
    if not buffers:
        axis.text(0.5, 0.5, "no buffered items", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return
    labels = []
    for row, buffer in enumerate(reversed(buffers)):
        zones = {k: float(v) for k, v in buffer["zones"].items()}
        top = zones["top_of_green"] or 1.0
        left = 0.0
        for zone, width in (
            ("red", zones["top_of_red"]),
            ("yellow", zones["yellow"]),
            ("green", zones["green"]),
        ):
            share = 100 * width / top
            axis.barh(row, share, left=left, color=_ZONE_COLOURS[zone], alpha=0.35, height=0.7)
            left += share
        percent = float(buffer["status_percent"])
        shown = max(min(percent, 140.0), -20.0)
        axis.plot([shown], [row], marker="D", color=_STATUS_COLOURS.get(buffer["colour"], "black"))
        axis.text(shown + 2, row, f"{percent:.0f} %", va="center", fontsize=8)
        labels.append(f"{buffer['sku']}  ({buffer['colour'].replace('_', ' ')})")
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set_xlim(-20, 150)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("% of top of green")


def _load(axis: Any, centre: str, load: dict[str, str], start: date, days: int) -> None:
    dates = [start + timedelta(days=n) for n in range(days)]
    values = [100 * float(load.get(d.isoformat(), 0)) for d in dates]
    axis.bar(range(days), values, color="#1f77b4", width=0.8, label="load")
    axis.axhline(100, color="#d62728", linewidth=1.2, label="capacity")
    axis.set_title(f"Work centre {centre}: load vs capacity per day")
    axis.set_ylim(0, 125)
    axis.set_ylabel("% of a day")
    step = max(1, days // 14)
    axis.set_xticks(
        range(0, days, step), [dates[n].strftime("%d %b") for n in range(0, days, step)], fontsize=8
    )
    axis.legend(loc="upper right", fontsize=8)
