"""Query commands: orders, dead letters, parked messages, projections, mapping samples."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from aggregates import STAGES
from entrypoints.cli.context import JSON, console, fail, open_hub, print_json, settings_from
from hub.audit.history import parse_instant
from hub.mapping import MappingError, SourceContext, check_samples
from hub.order_tracking import AmbiguousOrderRef

__all__ = ["AS_OF", "deadletters", "instant", "mappings", "orders", "parked", "projections"]

orders = typer.Typer(help="Order tracking: where every order is.", no_args_is_help=True)
deadletters = typer.Typer(help="Messages the hub could not use, with the reason.", no_args_is_help=True)
parked = typer.Typer(help="Messages waiting for an order the hub has not seen yet.", no_args_is_help=True)
projections = typer.Typer(help="Read models: status and rebuilds.", no_args_is_help=True)
mappings = typer.Typer(help="Mapping files: check them against their samples.", no_args_is_help=True)

AS_OF = typer.Option(None, "--as-of", help="as the hub knew it at this ISO 8601 time (replayed from the log)")


def instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        fail(f"--as-of: {error}")


@orders.command("list")
def orders_list(
    ctx: typer.Context,
    stage: str | None = typer.Option(None, "--stage", help=f"one of: {', '.join(STAGES)}"),
    limit: int | None = typer.Option(None, "--limit", min=1),
    as_json: bool = JSON,
) -> None:
    """List orders with their stage, money and anomalies."""
    if stage is not None and stage not in STAGES:
        fail(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    with open_hub(ctx) as hub:
        found = hub.orders.list(stage, limit)
    if as_json:
        print_json(found)
        return
    table = Table("order", "system", "stage", "total", "paid", "refunded", "shipments", "anomalies")
    for o in found:
        table.add_row(
            o["order_ref"],
            o["system"],
            o["stage"],
            f"{o['total_amount']} {o['currency']}",
            o["paid_amount"],
            o["refunded_amount"],
            str(len(o["shipments"])),
            ", ".join(a["code"] for a in o["anomalies"]),
        )
    console.print(table)
    console.print(f"{len(found)} order(s)")


@orders.command("show")
def orders_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="order reference or any alias (e.g. '#1001')"),
    system: str | None = typer.Option(None, "--system", help="when REF exists in several systems"),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """One order: milestones, payments, shipments, aliases, anomalies and source messages."""
    moment = instant(as_of)
    with open_hub(ctx) as hub:
        try:
            if moment is None:
                order = hub.orders.show(ref, system)
            else:
                order_id = hub.orders.order_id(ref, system)
                order = None if order_id is None else hub.history.as_of(order_id, moment)
        except AmbiguousOrderRef as error:
            fail(str(error))
    if order is None:
        when = f" at {moment.isoformat()}" if moment else ""
        fail(f"no order with reference or alias {ref!r}{when}", code=1)
    if as_json:
        print_json(order)
        return
    console.print(
        f"[bold]order {order['order_ref']}[/] ({order['system']}, {order['channel']}) — {order['stage']}"
    )
    for key in (
        "placed_at",
        "paid_at",
        "shipped_at",
        "delivered_at",
        "confirmed_at",
        "cancelled_at",
        "returned_at",
    ):
        if order[key]:
            console.print(f"  {key:<13} {order[key]}")
    console.print(
        f"  money         total {order['total_amount']} {order['currency']}, paid {order['paid_amount']}, "
        f"refunded {order['refunded_amount']}"
    )
    for s in order["shipments"]:
        console.print(
            f"  shipment      {s['shipment_id']}: {s['status']} "
            f"{s['carrier'] or ''} {s['tracking_number'] or ''}"
        )
    console.print("  aliases       " + ", ".join(f"{a['system']}:{a['ref']}" for a in order["aliases"]))
    for r in order["references"]:
        if r["status"] == "accepted":
            console.print(f"  {r['system']:<13} order {r['ref']} (since {r['at']})")
        else:
            console.print(f"  [red]{r['system']:<13} rejected[/]: {r['reason']} ({r['at']})")
    for a in order["anomalies"]:
        console.print(f"  [yellow]anomaly[/]       {a['code']}: {a['message']} (since {a['since']})")


@deadletters.command("list")
def deadletters_list(
    ctx: typer.Context,
    everything: bool = typer.Option(False, "--all", help="include resolved dead letters"),
    system: str | None = typer.Option(None, "--system"),
    as_json: bool = JSON,
) -> None:
    """Dead letters with their reason (open ones unless --all)."""
    with open_hub(ctx) as hub:
        letters = hub.dead_letters.list(None if everything else "open", system)
    if as_json:
        print_json([letter.to_json() for letter in letters])
        return
    table = Table("id", "system", "stage", "status", "message id", "reason")
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.system,
            letter.stage,
            letter.status,
            letter.message_id,
            letter.reason,
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s)")


@deadletters.command("show")
def deadletters_show(ctx: typer.Context, letter_id: int, as_json: bool = JSON) -> None:
    """One dead letter with its raw payload."""
    with open_hub(ctx) as hub:
        letter = hub.dead_letters.get(letter_id)
    if letter is None:
        fail(f"no dead letter with id {letter_id}", code=1)
    if as_json:
        print_json(letter.to_json(with_payload=True))
    else:
        console.print_json(data=letter.to_json(with_payload=True))


@deadletters.command("replay")
def deadletters_replay(
    ctx: typer.Context,
    letter_ids: list[int] = typer.Argument(None, help="ids to replay (default: all open)"),
    as_json: bool = JSON,
) -> None:
    """Re-drive dead letters through the current mappings and record each outcome."""
    with open_hub(ctx) as hub:
        if letter_ids:
            letters = [hub.dead_letters.get(i) for i in letter_ids]
            missing = [i for i, letter in zip(letter_ids, letters, strict=True) if letter is None]
            if missing:
                fail(f"no dead letter with id {', '.join(map(str, missing))}")
        else:
            letters = hub.dead_letters.list("open")
        outcomes = hub.replayer.replay([letter for letter in letters if letter is not None])
        hub.projector.catch_up()
    if as_json:
        print_json([{"id": o.letter_id, "resolved": o.resolved, "outcome": o.outcome} for o in outcomes])
        return
    for o in outcomes:
        console.print(
            f"{o.letter_id}: {'[green]resolved[/]' if o.resolved else '[red]open[/]'} — {o.outcome}"
        )
    console.print(f"{sum(o.resolved for o in outcomes)} of {len(outcomes)} resolved")


@parked.command("list")
def parked_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Messages waiting for their order; they become dead letters after parked_timeout_hours."""
    with open_hub(ctx) as hub:
        rows = hub.parked.listing()
    if as_json:
        print_json(rows)
        return
    table = Table("inbox position", "system", "message id", "waiting for order", "received", "note")
    for r in rows:
        letter = r["order_dead_letter"]
        table.add_row(
            str(r["inbox_position"]),
            r["system"],
            r["message_id"],
            r["awaiting_ref"],
            r["received_at"],
            f"the order is dead letter {letter}: fix and replay it" if letter else "",
        )
    console.print(table)


@projections.command("status")
def projections_status(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Each projection's position in the event log and its lag behind the head."""
    with open_hub(ctx) as hub:
        status = hub.projector.status()
        backlog = hub.processor.backlog()
    if as_json:
        print_json(status)
        return
    table = Table("projection", "position", "head", "lag")
    for p in status:
        table.add_row(p["name"], str(p["position"]), str(p["head"]), str(p["lag"]))
    console.print(table)
    console.print(f"inbox messages not yet processed: {backlog}")


@projections.command("rebuild")
def projections_rebuild(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="projection name, e.g. order_tracking"),
    verify: bool = typer.Option(False, "--verify", help="compare the rebuilt rows with the live ones"),
) -> None:
    """Rebuild a projection from the whole log in shadow tables and swap it in."""
    with open_hub(ctx) as hub:
        try:
            hub.projector.get(name)
        except KeyError as error:
            fail(str(error.args[0]))
        report = hub.projector.rebuild(name, verify=verify)
    if report.verified is False:
        for line in report.differences[:20]:
            console.print(f"[red]differs[/] {line}", highlight=False)
        fail(f"{len(report.differences)} row(s) differ; the live tables were kept", code=1)
    verdict = "identical to the live rows" if report.verified else "not compared (no --verify)"
    console.print(
        f"rebuilt {name} from {report.events} events up to position {report.position}: "
        f"{report.rows} rows, {verdict}; swapped in",
        highlight=False,
    )


@mappings.command("test")
def mappings_test(
    ctx: typer.Context,
    system: str | None = typer.Argument(None, help="one system (default: every mapping folder)"),
    folder: Path | None = typer.Option(None, "--mappings", help="mapping folder for SYSTEM"),
) -> None:
    """Check each mapping folder's samples against their expected canonical output."""
    settings = settings_from(ctx)
    if system:
        targets = {system: folder or settings.mapping_folder(system)}
    else:
        root = settings.mappings_dir
        targets = {p.name: p for p in sorted(root.iterdir()) if p.is_dir()} if root.is_dir() else {}
        if not targets:
            fail(f"no mapping folders under {root}")
    failed = 0
    for name, path in targets.items():
        config = settings.system(name)
        try:
            results = list(check_samples(name, path, SourceContext(config.timezone, config.phone_region)))
        except MappingError as error:
            fail(str(error))
        for result in results:
            mark = "[green]ok[/]  " if result.ok else "[red]FAIL[/]"
            failed += not result.ok
            console.print(f"{mark} {result.system}/{result.sample}: {result.detail}", highlight=False)
    if failed:
        fail(f"{failed} sample(s) failed", code=1)
