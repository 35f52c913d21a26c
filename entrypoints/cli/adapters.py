"""``hub adapters …`` (polled sources: status, poll now) and ``hub outbound …`` (order sync)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.soap import (
    OutboundReport,
    PollReport,
    outbound_syncers,
    planned_pushers,
    soap_pollers,
)
from adapters.soap.outbound import outbound_status as target_status
from adapters.soap.outbound import recorded_targets
from adapters.soap.status import soap_status
from adapters.webshop import WebhookHealth, webhook_secrets
from entrypoints.cli.context import JSON, console, fail, open_hub, print_json
from hub.bootstrap import Hub
from hub.intake import receiving
from hub.ports import Receive
from hub.settings import ConfigError

__all__ = ["adapters", "outbound", "pushers", "send"]

adapters = typer.Typer(help="Source adapters: what each one has read, and polling on demand.")
outbound = typer.Typer(help="Outbound sync: orders of other channels created in the ERP, exactly once.")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


@adapters.command("status")
def adapters_status(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Each adapter: cursor per entity, last success, last error, circuit state."""
    with open_hub(ctx) as hub:
        found = soap_status(hub.ports) + WebhookHealth(hub.ports, webhook_secrets(hub.ports)).report()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no adapters configured (see [systems.*] in hub.toml)")
        return
    for adapter in found:
        colour = {"ok": "green", "degraded": "yellow", "unconfigured": "dim"}.get(adapter["status"], "red")
        console.print(
            f"[bold]{adapter['name']}[/] [{colour}]{adapter['status']}[/] {adapter.get('detail') or ''}",
            highlight=False,
        )
        if adapter["adapter"] != "soap":
            continue  # a web shop's traffic is seen by the process serving it: its /health tells
        console.print(
            f"  circuit {adapter['circuit']}"
            + (f" since {adapter['circuit_opened_at']}" if adapter["circuit_opened_at"] else "")
            + f", failed polls in a row {adapter['failures_in_a_row']}"
        )
        table = Table("entity", "cursor", "records", "last success", "last error")
        for entity in adapter["entities"]:
            cursor = entity["cursor"] or {}
            table.add_row(
                entity["entity"],
                " ".join(f"{k}={v}" for k, v in sorted(cursor.items()) if v not in (None, "")) or "—",
                str(entity["records"]),
                entity["last_success_at"] or "—",
                (f"[red]{entity['last_error']}[/] ({entity['last_error_at']})" if entity["failing"] else "—"),
            )
        console.print(table)


@adapters.command("poll")
def adapters_poll(
    ctx: typer.Context,
    system: str = typer.Argument(..., help="a system with adapter = 'soap'"),
    entity: list[str] = typer.Option([], "--entity", "-e", help="only these entities (repeatable)"),
    no_process: bool = typer.Option(False, "--no-process", help="only store; run 'hub process' later"),
    as_json: bool = JSON,
) -> None:
    """Poll one source now: every page of changes into the inbox, then process them.

    In distributed mode (transport = "kafka") pages are published and the workers process them.
    """
    with open_hub(ctx) as hub, receiving(hub) as receive:
        pollers = _pollers(hub, receive)
        if system not in pollers:
            fail(f"{system!r} is not a SOAP source; configured: {', '.join(pollers) or 'none'}")
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def on_page(report: PollReport) -> None:
                if report.entity not in tasks:
                    tasks[report.entity] = progress.add_task(f"{system}/{report.entity}", detail="")
                progress.update(
                    tasks[report.entity],
                    detail=f"{report.pages} pages, {report.records} records, {report.stored} new",
                )

            try:
                reports = pollers[system].poll(entity or None, on_page)
            except ValueError as error:
                fail(str(error))
        processed = None if no_process or hub.settings.transport == "kafka" else hub.process()
    if as_json:
        print_json({"polls": [r.__dict__ for r in reports], "processed": processed and processed.__dict__})
    else:
        for r in reports:
            if r.skipped:
                console.print(f"[yellow]{system}/{r.entity}: skipped[/] — {r.skipped}")
                continue
            line = (
                f"{system}/{r.entity}: {r.pages} pages, {r.records} records, "
                f"{r.stored} new, {r.duplicates} seen"
            )
            if r.retries:
                line += f", {r.retries} retries"
            console.print(line + (f" — [red]{r.error}[/]" if r.error else ""), highlight=False)
        if processed is not None:
            console.print(
                f"processed {processed.processed}, dead letters {processed.dead_lettered}, "
                f"waiting for their order {processed.parked}"
            )
    if any(r.error or r.skipped for r in reports):
        raise typer.Exit(1)


def _pollers(hub: Hub, receive: Receive) -> dict[str, Any]:
    try:
        return soap_pollers(hub.ports, receive)
    except ConfigError as error:
        fail(str(error))


def _syncers(hub: Hub, receive: Receive | None = None) -> dict[str, Any]:
    try:
        return outbound_syncers(hub.ports, receive=receive)
    except ConfigError as error:
        fail(str(error))


def pushers(hub: Hub, receive: Receive | None = None) -> dict[str, Any]:
    try:
        return planned_pushers(hub.ports, receive=receive)
    except ConfigError as error:
        fail(str(error))


@outbound.command("status")
def outbound_status_command(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Per target: kill switch, position in the log, orders created, rejected or in doubt."""
    with open_hub(ctx) as hub:
        syncers = _syncers(hub)
        recorded = recorded_targets(hub.store)
        found = [target_status(hub.ports, t, syncers.get(t)) for t in sorted(set(syncers) | set(recorded))]
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no outbound sync configured (see [systems.<erp>.outbound] in hub.toml)")
    for status in found:
        state = "[red]off[/] — " + status["paused"] if status["paused"] else "[green]on[/]"
        console.print(f"[bold]outbound to {status['target']}[/] {state}", highlight=False)
        counts = status["counts"]
        console.print(
            f"  channels {', '.join(status['channels'])}; log position {status['position']} of "
            f"{status['log_head']}; created {counts.get('created', 0) + counts.get('found', 0)}, "
            f"rejected {counts.get('rejected', 0)}, in doubt {counts.get('sending', 0)}"
        )
        if status["last_error"] and (status["last_success_at"] or "") < (status["last_error_at"] or ""):
            console.print(f"  [red]last error[/] {status['last_error']} ({status['last_error_at']})")
        for row in status["attention"]:
            what = (
                "rejected: " + (row["reason"] or "") if row["state"] == "rejected" else "in doubt (sending)"
            )
            console.print(f"  {row['order_system']}:{row['order_ref']} {what} [{row['attempts']} attempts]")


@outbound.command("sync")
def outbound_sync(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="one target system (default: all)"),
    as_json: bool = JSON,
) -> None:
    """Send the orders placed since the last round now (process the inbox first)."""
    send(ctx, lambda hub, receive: _syncers(hub, receive), target, "orders", as_json)


def send(
    ctx: typer.Context,
    senders: Callable[[Hub, Receive], dict[str, Any]],
    target: str | None,
    what: str,
    as_json: bool,
) -> None:
    """One round of an outbound path (sales orders, planned orders) to every target or one:
    process first, so the round sees everything received, and after, so its answers count."""
    with open_hub(ctx) as hub, receiving(hub) as receive:
        embedded = hub.settings.transport != "kafka"
        if embedded:
            hub.process()
        found = senders(hub, receive)
        if not found:
            console.print(f"no system is configured to receive {what}")
        if target is not None and target not in found:
            fail(f"no {what} sent to {target!r}; configured: {', '.join(found) or 'none'}")
        reports: list[OutboundReport] = []
        with _progress() as progress:
            for name, sender in found.items():
                if target not in (None, name):
                    continue
                task = progress.add_task(f"{what} to {name}", detail="")

                def on_order(report: OutboundReport, task: Any = task) -> None:
                    progress.update(
                        task, detail=f"{report.created + report.found} created, {report.rejected} rejected"
                    )

                reports.append(sender.run_once(on_order))
        if embedded:
            hub.process()
    if as_json:
        print_json([r.__dict__ for r in reports])
    else:
        for r in reports:
            if r.paused:
                console.print(f"[yellow]{what} to {r.target}: not sending[/] — {r.paused}")
                continue
            console.print(
                f"{what} to {r.target}: {r.created} created, {r.found} already there, {r.rejected} rejected"
                + (f" — [red]{r.error}[/]" if r.error else "")
            )
            for order in r.orders:
                if order["state"] == "rejected":
                    console.print(f"  {order['order']} refused: {order['reason']}", highlight=False)
    if any(r.error for r in reports):
        raise typer.Exit(1)


def _switch(ctx: typer.Context, target: str, paused: bool) -> None:
    with open_hub(ctx) as hub:
        syncers = _syncers(hub)
        if target not in syncers:
            fail(f"no outbound sync to {target!r}; configured: {', '.join(syncers) or 'none'}")
        syncers[target].pause(paused)
    console.print(f"outbound to {target} {'paused' if paused else 'resumed'}")


@outbound.command("pause")
def outbound_pause(ctx: typer.Context, target: str = typer.Argument(...)) -> None:
    """The kill switch: stop creating orders in TARGET (every running hub stops at its next order)."""
    _switch(ctx, target, True)


@outbound.command("resume")
def outbound_resume(ctx: typer.Context, target: str = typer.Argument(...)) -> None:
    """Lift ``hub outbound pause``."""
    _switch(ctx, target, False)
