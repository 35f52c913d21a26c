"""``hub accounting``: every message received, and where each one is now."""

from __future__ import annotations

import typer
from rich.table import Table

from entrypoints.cli.context import JSON, console, fail, open_hub, print_json
from hub.accounting import Accounting, AccountingReport
from hub.audit.history import parse_instant

__all__ = ["accounting"]


def accounting(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="only messages received from this ISO 8601 time on (default: all)"
    ),
    as_json: bool = JSON,
) -> None:
    """Per system: received = stored + duplicates + refused, and stored = applied +
    dead-lettered + waiting. Exits 1, listing the messages by position, when a message has no
    place or more than one."""
    try:
        moment = parse_instant(since) if since is not None else None
    except ValueError as error:
        fail(f"--since: {error}")
    with open_hub(ctx) as hub:
        report = Accounting(hub.store).report(moment, streaming=hub.settings.transport == "kafka")
    if as_json:
        print_json(report.as_dict())
    else:
        _show(report)
    if not report.balanced:
        raise typer.Exit(1)


def _show(report: AccountingReport) -> None:
    table = Table(
        "system",
        "received",
        "stored",
        "dupl.",
        "refused",
        "applied",
        "dead",
        "waiting",
        "diff.",
        title=f"messages received {'since ' + report.since if report.since else 'so far'}",
    )
    for account in report.systems:
        applied = account.applied + account.applied_before_accounting
        table.add_row(
            account.system,
            str(account.received),
            str(account.stored),
            str(account.duplicates),
            str(sum(account.refused.values())),
            str(applied),
            str(account.dead_lettered),
            str(account.waiting),
            str(account.difference),
        )
    console.print(table)
    for account in report.systems:
        if account.parked:
            console.print(
                f"waiting, {account.system}: {account.parked} parked for their order", highlight=False
            )
        if account.applied_before_accounting:
            console.print(
                f"applied, {account.system}: {account.applied_before_accounting} processed before accounting "
                f"began ({report.accounting_began_at}) without an outcome of their own",
                highlight=False,
            )
        if account.refused:
            reasons = ", ".join(f"{reason or 'unknown'} {n}" for reason, n in sorted(account.refused.items()))
            console.print(f"refused at the door, {account.system}: {reasons}", highlight=False)
    for item in report.unaccounted:
        console.print(
            f"[red]unaccounted[/]: {item['system']} message {item['message_id']!r} at inbox position "
            f"{item['position']} was passed by processing with no outcome",
            highlight=False,
        )
    for item in report.doubled:
        console.print(
            f"[red]doubled[/]: {item['system']} message {item['message_id']!r} at inbox position "
            f"{item['position']} is {' and '.join(item['places'])}",
            highlight=False,
        )
    if report.balanced:
        console.print("every message is accounted for: nothing lost, nothing twice")
