"""``hub audit``: prove the event log was not altered (verify, checkpoints)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from entrypoints.cli.context import JSON, console, counting_progress, fail, open_hub, print_json
from hub.audit.export import Selection, export
from hub.audit.history import EntityNotFound, parse_instant
from hub.audit.offline import main as offline_main
from hub.audit.verify import checkpoint, read_checkpoint, verify

__all__ = ["audit", "print_history"]

audit = typer.Typer(help="Audit: tamper evidence of the event log.", no_args_is_help=True)


@audit.command("verify")
def audit_verify(
    ctx: typer.Context,
    against: Path | None = typer.Option(
        None, "--against", help="a checkpoint file from 'hub audit checkpoint' the log must still extend"
    ),
    as_json: bool = JSON,
) -> None:
    """Walk the whole log against its hash chain; exit 1 naming the first altered position."""
    mark = None
    if against is not None:
        if not against.is_file():
            fail(f"{against}: checkpoint file not found")
        try:
            mark = read_checkpoint(against.read_text(encoding="utf-8"), str(against))
        except ValueError as error:
            fail(str(error))
    with open_hub(ctx) as hub:
        total = hub.store.head()
        with counting_progress(as_json) as progress:
            task = progress.add_task("verifying", total=total)
            report = verify(hub.store, mark, on_progress=lambda n: progress.advance(task, n))
    if as_json:
        print_json(report.to_json())
    elif report.ok:
        suffix = f", extends the checkpoint at position {mark.position}" if mark else ""
        console.print(f"ok: {report.checked} events verified up to position {report.head}{suffix}")
    else:
        console.print(f"[bold red]TAMPERED[/]: {report.problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@audit.command("history")
def audit_history(
    ctx: typer.Context,
    entity: str = typer.Argument(
        ..., help="order:REF (or a bare order alias), customer:SYSTEM:REF, or an id"
    ),
    system: str | None = typer.Option(None, "--system", help="when an order REF exists in several systems"),
    raw: bool = typer.Option(False, "--raw", help="include each event's raw source message"),
    as_json: bool = JSON,
    as_csv: bool = typer.Option(False, "--csv", help="one row per event, for spreadsheets"),
) -> None:
    """Every event of an entity with its provenance: system, message id, receipt, mapping@version."""
    with open_hub(ctx) as hub:
        try:
            entries = hub.history.entries(hub.history.resolve(entity, system), raw=raw)
        except EntityNotFound as error:
            fail(str(error), code=1)
    if as_json:
        print_json(entries)
    elif as_csv:
        writer = csv.writer(sys.stdout)
        columns = [
            "version",
            "event",
            "recorded_at",
            "system",
            "message_id",
            "received_at",
            "mapping",
            "notes",
            "data",
        ]
        writer.writerow(columns + (["source_message"] if raw else []))
        for entry in entries:
            row = [json.dumps(entry[c]) if c in ("notes", "data") else entry[c] for c in columns]
            writer.writerow(row + ([json.dumps(entry["source_message"])] if raw else []))
    else:
        print_history(entity, entries)


def print_history(entity: str, entries: list[dict[str, Any]]) -> None:
    table = Table(title=f"history of {entity}")
    for column in ("v", "event", "recorded (UTC)", "source message", "mapping", "data quality"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            str(entry["version"]),
            entry["event"],
            entry["recorded_at"][:19].replace("T", " "),
            f"{entry['system']}:{entry['message_id']}",
            entry["mapping"] or "",
            "; ".join(f"{n['field']} = {n['value']}: {n['reason']}" for n in entry.get("notes") or []),
        )
    console.print(table)


@audit.command("lineage")
def audit_lineage(
    ctx: typer.Context,
    entity: str = typer.Argument(..., help="order:REF, customer:SYSTEM:REF, or an id"),
    field: str = typer.Argument(..., help="field of the entity's view, dotted (stage, fields.emails, …)"),
    system: str | None = typer.Option(None, "--system", help="when an order REF exists in several systems"),
    as_json: bool = JSON,
) -> None:
    """Which message set this field's value, and what it was before — every change."""
    with open_hub(ctx) as hub:
        try:
            changes = hub.history.lineage(hub.history.resolve(entity, system), field)
        except EntityNotFound as error:
            fail(str(error), code=1)
    if as_json:
        print_json(changes)
        return
    for change in changes:
        console.print(
            f"v{change['version']} {change['recorded_at'][:19]} {change['system']}:{change['message_id']} "
            f"({change['mapping']}): {json.dumps(change['before'])} -> {json.dumps(change['after'])}",
            highlight=False,
        )


@audit.command("export")
def audit_export(
    ctx: typer.Context,
    entity: str | None = typer.Argument(None, help="order:REF, customer:SYSTEM:REF or an id (or --all)"),
    everything: bool = typer.Option(False, "--all", help="every event (with --since/--until: a time range)"),
    since: str | None = typer.Option(None, "--since", help="recorded at or after this ISO 8601 time"),
    until: str | None = typer.Option(None, "--until", help="recorded at or before this ISO 8601 time"),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file to write (default: stdout)"),
    system: str | None = typer.Option(None, "--system", help="when an order REF exists in several systems"),
) -> None:
    """Events with their chain links, verifiable offline: python -m hub.audit.offline FILE."""
    if fmt not in ("jsonl", "csv"):
        fail(f"--format {fmt!r}: use jsonl or csv")
    if (entity is None) == (not everything):
        fail("name one ENTITY, or pass --all")
    try:
        bounds = [parse_instant(t) if t else None for t in (since, until)]
    except ValueError as error:
        fail(f"--since/--until: {error}")
    with open_hub(ctx) as hub:
        try:
            aggregate = hub.history.resolve(entity, system) if entity else None
        except EntityNotFound as error:
            fail(str(error), code=1)
        selection = Selection(aggregate, bounds[0], bounds[1])
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            with counting_progress(output is None) as progress:
                task = progress.add_task("exporting", total=None)
                written = export(hub.store, selection, fmt, out, on_event=lambda: progress.advance(task))
        except ValueError as error:
            fail(str(error), code=1)
        finally:
            if output:
                out.close()
    if output:
        console.print(
            f"{written} events written to {output}; check with: python -m hub.audit.offline {output}"
        )


@audit.command("verify-export")
def audit_verify_export(
    file: Path = typer.Argument(..., help="a file written by 'hub audit export'"),
    against: Path | None = typer.Option(None, "--against", help="a checkpoint the export must pass through"),
) -> None:
    """Check an export offline (the same check as python -m hub.audit.offline)."""
    if not file.is_file():
        fail(f"{file}: not found")
    arguments = [str(file)] + (["--checkpoint", str(against)] if against else [])
    raise typer.Exit(offline_main(arguments))


@audit.command("checkpoint")
def audit_checkpoint(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="write it here (default: stdout)"),
) -> None:
    """Print the chain head (after verifying the chain) for the auditor to keep outside the hub."""
    with open_hub(ctx) as hub:
        report = verify(hub.store)
        if not report.ok:
            fail(f"the chain does not verify, so no checkpoint: {report.problem}", code=1)
        mark = checkpoint(hub.store)
    if output is None:
        print_json(mark.to_json())
    else:
        output.write_text(json.dumps(mark.to_json(), indent=2) + "\n", encoding="utf-8")
        console.print(f"checkpoint of position {mark.position} written to {output}")
