"""``hub plan``: demand-driven buffers, the capacity-aware schedule, the chart and explanations."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from entrypoints.cli.adapters import pushers, send
from entrypoints.cli.context import JSON, console, fail, open_hub, print_json
from hub.audit.history import parse_instant
from hub.planning.chart import FORMATS, render_chart
from hub.planning.queries import COLOURS, UnknownItem

__all__ = ["plan", "print_buffers", "print_schedule"]

plan = typer.Typer(help="Demand-driven planning: buffers, schedule, chart.", no_args_is_help=True)

_STYLE = {
    "dark_red": "bold white on red",
    "red": "bold red",
    "yellow": "yellow",
    "green": "green",
    "over_top_of_green": "blue",
    "unplanned": "dim",
}
_LABEL = {"dark_red": "dark red", "over_top_of_green": "over TOG"}
_SCHEDULE_COLUMNS = [
    "work_centre",
    "sequence",
    "ref",
    "kind",
    "sku",
    "quantity",
    "buffer",
    "status_percent",
    "due",
    "start",
    "finish",
    "days",
    "late",
    "promise",
    "problem",
]


@plan.command("buffers")
def buffers(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="red (incl. dark red), yellow or green"),
    as_json: bool = JSON,
) -> None:
    """Every buffered item: zones, net flow, status and the supply to order, most urgent first."""
    if status is not None and status not in COLOURS:
        fail(f"--status {status!r}: choose one of {', '.join(COLOURS)}")
    with open_hub(ctx) as hub:
        found = hub.plan.buffers(status)
    if as_json:
        print_json(found)
        return
    print_buffers(found)
    if not found:
        console.print("no buffered items" + (f" in {status}" if status else ""))


def print_buffers(found: list[dict[str, Any]]) -> None:
    """Narrow enough for 80 columns: net flow as its sum, zone tops as red/yellow/green."""
    table = _table("item", "ADU", "net flow = OH + OO − QD", "tops r/y/g", "status", "order")
    for b in found:
        if "zones" not in b:
            table.add_row(b["sku"], "", "", "", "unplanned", "", style="dim")
            continue
        recommendation = b["recommendation"]
        zones = b["zones"]
        style = _STYLE.get(b["colour"], "")
        table.add_row(
            b["sku"],
            f"{float(b['adu']):.1f}",
            f"{_number(b['net_flow'])} = {_number(b['on_hand'])} + {_number(b['on_order'])} − "
            f"{_number(b['qualified_demand']['total'])}",
            "/".join(_number(zones[k]) for k in ("top_of_red", "top_of_yellow", "top_of_green")),
            f"[{style}]{float(b['status_percent']):.0f}% {_LABEL.get(b['colour'], b['colour'])}[/]",
            f"{_number(recommendation['quantity'])} by {recommendation['due'][5:]}" if recommendation else "",
        )
    console.print(table)
    for b in found:
        if b.get("problem"):
            console.print(f"[yellow]{b['sku']}[/]: {b['problem']}", highlight=False)


def _table(*headers: str) -> Table:
    table = Table(*headers, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
    return table


def _number(text: str) -> str:
    """'200.00' → '200', '0.714' stays: figures as a planner reads them."""
    value = Decimal(text)
    return f"{value:f}" if value != value.to_integral_value() else str(int(value))


@plan.command("schedule")
def schedule(
    ctx: typer.Context,
    work_centre: str | None = typer.Option(None, "--work-centre", help="only this work centre"),
    output: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Production orders per work centre by buffer priority, within capacity; late ones flagged."""
    if output not in ("table", "csv", "json"):
        fail(f"--format {output!r}: choose table, csv or json")
    with open_hub(ctx) as hub:
        found = hub.plan.schedule(work_centre)
    if output == "json":
        print_json(found)
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=_SCHEDULE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(_slots(found))
        return
    print_schedule(found)


def _slots(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [slot for slots in found["work_centres"].values() for slot in slots]


def print_schedule(found: dict[str, Any]) -> None:
    table = _table("centre", "order", "item", "qty", "buffer", "finish", "due", "flag")
    for row in _slots(found):
        flag = row["problem"] or (f"late → {row['promise'][5:]}" if row["late"] else "")
        percent = row["status_percent"]
        table.add_row(
            row["work_centre"],
            "new" if row["kind"] == "recommended" else f"{row['ref']} {row['kind']}",
            row["sku"],
            _number(row["quantity"]),
            f"[{_STYLE.get(row['buffer'] or '', '')}]{float(percent):.0f}%[/]" if percent else "-",
            (row["finish"] or "")[5:],
            row["due"][5:],
            f"[bold red]{flag}[/]" if flag else "",
        )
    console.print(f"[bold]Schedule[/] from {found['today']}")
    console.print(table)
    late = found["late"]
    console.print(f"[bold]Late[/] {len(late)}" + (": " + ", ".join(r["ref"] for r in late) if late else ""))
    risk = found["at_risk"]
    short = [r for r in risk if not r["covered_by_stock"]]
    console.print(
        f"[bold]Customer orders at risk[/] (items in red) {len(risk)}, not covered by stock {len(short)}"
    )
    for r in risk[:15]:
        cover = "covered by stock" if r["covered_by_stock"] else "[red]not covered[/]"
        console.print(
            f"  {r['order_ref']} ({r['system']}, {r['channel']}) {r['sku']} × {r['open_quantity']} due "
            f"{r['due']}: {r['buffer'].replace('_', ' ')} {r['status_percent']} %, {cover}",
            highlight=False,
        )


@plan.command("chart")
def chart(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="file to write: .svg or .png"),
) -> None:
    """Buffer status and load vs capacity per day, as one picture."""
    if out.suffix.lower() not in FORMATS:
        fail(f"--out {out}: the chart is written as .svg or .png")
    if not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist")
    with open_hub(ctx) as hub:
        found_buffers = hub.plan.buffers()
        found_plan = hub.plan.schedule()
        days = hub.settings.planning.schedule_days
    items = render_chart(found_buffers, found_plan, out, days)
    console.print(f"wrote {out} ({items} items, {len(found_plan['load'])} work centres, {days} days)")


@plan.command("push")
def push(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="one ERP (default: every one with [planned_orders])"),
    as_json: bool = JSON,
) -> None:
    """Hand today's recommendations to the ERP as planned production orders (once a day each)."""
    send(ctx, pushers, target, "planned orders", as_json)


@plan.command("explain")
def explain(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="the item (SKU)"),
    as_of: str | None = typer.Option(None, "--as-of", help="as planned at this ISO 8601 time (replayed)"),
    as_json: bool = JSON,
) -> None:
    """Why an item's buffer looks as it does: the orders behind ADU and qualified demand."""
    try:
        moment = None if as_of is None else parse_instant(as_of)
    except ValueError as error:
        fail(f"--as-of: {error}")
    with open_hub(ctx) as hub:
        try:
            found = hub.plan.explain(item, moment)
        except UnknownItem as error:
            fail(str(error), code=1)
    if as_json:
        print_json(found)
        return
    _print_explanation(found)


def _print_explanation(b: dict[str, Any]) -> None:
    when = f" as of {b['as_of']}" if "as_of" in b else ""
    console.print(f"[bold]{b['sku']}[/] {b.get('description') or ''}{when}", highlight=False)
    if "zones" not in b:
        console.print(f"  [yellow]{b.get('problem')}[/]", highlight=False)
        return
    z, q = b["zones"], b["qualified_demand"]
    out = console.print
    out(
        f"  profile {b['profile']}, lead time {b['lead_time_days']} d, MOQ {b['minimum_order']}, "
        f"multiple {b['order_multiple']}, work centre {b['work_centre'] or '-'}",
        highlight=False,
    )
    lines = b["inputs"]["adu_lines"]
    out(
        f"  ADU {b['adu']} = {sum(float(x['quantity']) for x in lines):g} units over "
        f"{b['adu_window_days']} days ({b['adu_method']}), from {len(lines)} order lines:",
        highlight=False,
    )
    for x in lines[:20]:
        out(f"    {x['due']}  {x['order_ref']:<24} {x['channel']:<10} {x['quantity']}", highlight=False)
    if len(lines) > 20:
        out(f"    … {len(lines) - 20} more (--json lists all)")
    out(
        f"  zones: red {z['red_base']} + {z['red_safety']} (top {z['top_of_red']}), yellow {z['yellow']} "
        f"(top {z['top_of_yellow']}), green {z['green']} (top {z['top_of_green']})",
        highlight=False,
    )
    out(
        f"  net flow {b['net_flow']} = on hand {b['on_hand']} + on order {b['on_order']} − qualified demand "
        f"{q['total']} (past due {q['past_due']}, today {q['due_today']}, spikes ≥ {q['spike_threshold']} "
        f"within {q['spike_horizon_days']} d: {q['spikes']})",
        highlight=False,
    )
    for x in b["inputs"]["qualified_lines"]:
        out(f"    {x['due']}  {x['order_ref']:<24} {x['why']:<9} {x['quantity']}", highlight=False)
    for s in b["inputs"]["supply"]:
        out(
            f"    supply {s['order_ref']} {s['kind']} {s['status']} {s['quantity']} due {s['due']}",
            highlight=False,
        )
    recommendation = b["recommendation"]
    style = _STYLE.get(b["colour"], "")
    verdict = (
        f"order {recommendation['quantity']} (up to top of green, rounded to MOQ/multiple), "
        f"due {recommendation['due']}"
        if recommendation
        else "no order: net flow above top of yellow"
    )
    out(
        f"  status [{style}]{b['status_percent']} % {b['colour'].replace('_', ' ')}[/] → {verdict}",
        highlight=False,
    )
