"""``hub files watch``: take complete files from a system's drop folder (once, or until stopped)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.filedrop import DropReport, FileDrop
from entrypoints.cli.context import JSON, console, fail, open_hub, print_json
from hub.intake import intake

__all__ = ["files"]

files = typer.Typer(help="Drop folders: files a warehouse or partner system writes for the hub.")


@files.command("watch")
def files_watch(
    ctx: typer.Context,
    system: str = typer.Argument(..., help="the system the files come from (its mappings read them)"),
    folder: Path | None = typer.Option(None, "--folder", help="default: the system's drop_folder setting"),
    once: bool = typer.Option(False, "--once", help="take what is complete now, then exit"),
    settle: float | None = typer.Option(
        None, "--settle", help="seconds unchanged before a file counts as complete"
    ),
    as_json: bool = JSON,
) -> None:
    """Read every complete file of the drop folder, then move it to processed/ or failed/."""
    with open_hub(ctx) as hub, intake(hub) as receive:
        config = hub.settings.system(system)
        where = folder or config.drop_folder
        if where is None:
            fail(f"no folder: pass --folder or set systems.{system}.drop_folder")
        if not where.is_dir():
            fail(f"{where}: not a folder")
        hub.catalog.mappings(system)  # unusable mappings fail here, before a file is moved
        drop = FileDrop(
            hub.ports, system, where, receive, config.settle_seconds if settle is None else settle
        )
        taken: list[DropReport] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal or as_json,
        ) as progress:
            tasks: dict[Path, int] = {}

            def on_progress(path: Path, done: int, size: int) -> None:
                if path not in tasks:
                    tasks[path] = progress.add_task(path.name, total=size)
                progress.update(tasks[path], completed=done)

            try:
                while True:
                    # A settling file needs two looks: the first notes it, a later one takes it.
                    reports = drop.scan(on_progress)
                    if once and drop.settle_seconds > 0 and not reports and drop.waiting():
                        time.sleep(drop.settle_seconds)
                        reports = drop.scan(on_progress)
                    for report in reports:
                        taken.append(report)
                        if not as_json:
                            _print(report)
                    if reports and hub.settings.transport != "kafka":
                        hub.process()
                    if once:
                        break
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        left = [p.name for p in drop.waiting()]
    if as_json:
        print_json({"taken": [r.__dict__ for r in taken], "waiting": left})
    elif left:
        console.print(f"still waiting (incomplete or settling): {', '.join(left)}")


def _print(report: DropReport) -> None:
    colour = "green" if report.outcome == "processed" else "red"
    console.print(
        f"[{colour}]{report.outcome}[/] {report.file}: {report.messages} messages, {report.stored} new, "
        f"{report.duplicates} seen, {len(report.refused)} refused → {report.moved_to}",
        highlight=False,
    )
    for reason in report.refused[:5]:
        console.print(f"  [yellow]refused[/] {reason}", highlight=False)
