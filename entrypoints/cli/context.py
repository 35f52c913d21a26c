"""What every command shares: opening the hub from the settings, and printing results."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from entrypoints.settings import load_settings
from hub.bootstrap import Hub, bootstrap
from hub.mapping import MappingError
from hub.privacy.keys import KeyStoreError
from hub.settings import ConfigError, HubSettings
from hub.store import DatabaseUrlError

__all__ = ["JSON", "console", "err", "fail", "open_hub", "print_json", "settings_from"]

JSON = typer.Option(False, "--json", help="machine-readable output (stable field names)")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_from(ctx: typer.Context) -> HubSettings:
    try:
        return load_settings(ctx.obj.get("config") if ctx.obj else None)
    except ConfigError as error:
        fail(str(error))


@contextmanager
def open_hub(ctx: typer.Context, mapping_folders: dict[str, Path] | None = None) -> Iterator[Hub]:
    settings = settings_from(ctx)
    try:
        hub = bootstrap(settings, mapping_folders=mapping_folders)
    except DatabaseUrlError as error:
        fail(f"HUB_DATABASE_URL {error}")
    except KeyStoreError as error:
        fail(f"personal-data keys: {error}")
    except Exception as error:  # the database itself: unreachable server, unwritable file
        fail(f"cannot open the database {settings.database_url!r}: {error}")
    failure: tuple[str, int] | None = None
    try:
        yield hub
    except MappingError as error:
        failure = (str(error), 2)
    except (PersistenceError, sqlite3.Error) as error:
        # A full disk, a file-size limit, a database server gone: each batch commits whole, so
        # what was acknowledged before is kept and a re-run carries on after it.
        failure = (
            f"the database failed: {error}. Everything committed before it is kept and nothing after "
            "it was acknowledged; once the cause is fixed (disk space, file-size limit, the server), "
            "run the same command again: it carries on where it stopped",
            3,
        )
    finally:
        if failure is None:
            hub.close()
        else:
            with contextlib.suppress(Exception):  # the database may be as unwell as before
                hub.close()
    if failure is not None:
        fail(*failure)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def counting_progress(quiet: bool = False) -> Progress:
    """A bar counting items (n of total, time left) on a terminal; nothing when piped or quiet."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
