"""``hub ingest`` and ``hub process``: bulk loads from files, and catching up after a crash."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.files import FileError, take_file
from entrypoints.cli.context import console, fail, open_hub
from hub.bootstrap import Hub
from hub.intake import Receive, intake
from hub.processing import BatchReport

__all__ = ["ingest", "process"]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def ingest(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="JSON Lines (.jsonl/.json) or CSV files"),
    system: str = typer.Option(..., "--system", "-s", help="source system the messages come from"),
    mappings: Path | None = typer.Option(None, "--mappings", help="mapping folder (default mappings/SYSTEM)"),
    no_process: bool = typer.Option(False, "--no-process", help="only store; run 'hub process' later"),
) -> None:
    """Store every message of FILES in the inbox, then process them and update the projections."""
    for path in files:
        if not path.is_file():
            fail(f"{path}: file not found")
    folders = {system: mappings} if mappings else None
    with open_hub(ctx, folders) as hub, intake(hub) as receive:
        hub.catalog.mappings(system)  # unusable mappings fail here, before anything is stored
        received = stored = duplicates = unreadable = 0
        with _progress() as progress:
            for path in files:
                task = progress.add_task(f"reading {path.name}", total=path.stat().st_size, detail="")
                try:
                    counts = _ingest_file(hub, receive, system, path, progress, task)
                except FileError as error:
                    fail(str(error))
                received += counts[0]
                stored += counts[1]
                duplicates += counts[2]
                unreadable += counts[3]
        if hub.settings.transport == "kafka":
            console.print(
                f"received {received}, published to Kafka {stored}, unreadable {unreadable} "
                "(dead-lettered); the workers process them",
                highlight=False,
            )
            return
        report = BatchReport()
        if not no_process:
            report = _process(hub)
        console.print(
            f"received {received}, duplicates {duplicates}, stored {stored}, "
            f"unreadable {unreadable}, processed {report.processed}, "
            f"dead-lettered {report.dead_lettered + unreadable}, "
            f"waiting for their order {hub.parked.count()}"
            + ("" if not no_process else " (not processed: --no-process)"),
            highlight=False,
        )


def _ingest_file(
    hub: Hub, receive: Receive, system: str, path: Path, progress: Progress, task: int
) -> tuple[int, int, int, int]:
    taken = take_file(
        hub.ports,
        receive,
        system,
        path,
        on_progress=lambda done, messages: progress.update(
            task, completed=done, detail=f"{messages} messages"
        ),
        on_refused=lambda reason: console.print(f"[yellow]skipped[/] {reason}", highlight=False),
    )
    unreadable = len(taken.refused)
    return taken.messages + unreadable, taken.stored, taken.duplicates, unreadable


def _process(hub: Hub) -> BatchReport:
    backlog = hub.processor.backlog()
    with _progress() as progress:
        task = progress.add_task("processing", total=max(backlog, 1), detail="")
        report = hub.process(on_batch=lambda batch: progress.advance(task, batch.messages))
        progress.update(task, completed=max(backlog, 1), detail=f"{report.messages} messages")
    return report


def process(ctx: typer.Context) -> None:
    """Bring processing and every projection up to date with the inbox, then exit."""
    with open_hub(ctx) as hub:
        if hub.settings.transport == "kafka":
            fail("transport is 'kafka': 'hub worker' processes, 'hub project NAME' keeps projections")
        report = _process(hub)
        status = ", ".join(f"{p['name']} at {p['position']}/{p['head']}" for p in hub.projector.status())
        console.print(
            f"processed {report.processed}, dead-lettered {report.dead_lettered}, "
            f"waiting for their order {hub.parked.count()}, events {report.events}; "
            f"projections: {status}",
            highlight=False,
        )
