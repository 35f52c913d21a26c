"""``hub privacy erase``: the right to erasure, without breaking the log."""

from __future__ import annotations

import typer

from entrypoints.cli.context import console, fail, open_hub, print_json
from hub.audit.history import EntityNotFound
from hub.privacy.erasure import erase_subject

__all__ = ["privacy"]

privacy = typer.Typer(help="Personal data: erasure by crypto-shredding.", no_args_is_help=True)


@privacy.command("erase")
def privacy_erase(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="the person: SYSTEM:REF as a source system knows them, or an id"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Destroy the person's keys and erase raw copies; views then show them as erased."""
    with open_hub(ctx) as hub:
        try:
            key = hub.history.resolve_customer(subject)
        except EntityNotFound as error:
            fail(str(error), code=1)
        if not yes and not typer.confirm(f"Erase {subject} ({key}) for good?"):
            fail("nothing erased", code=1)
        try:
            report = erase_subject(hub.store, key)
        except LookupError as error:
            fail(str(error), code=1)
        hub.processor.forget_cached()
    if as_json:
        print_json(report.to_json())
        return
    console.print(
        f"erased {subject}: {report.keys_destroyed} key(s) destroyed (the record and the "
        f"{report.activities_erased} interaction(s) and case(s) about it are unreadable), "
        f"{report.raw_messages_erased} raw message(s) and {report.dead_letters_erased} dead letter(s) "
        "erased; the log still verifies",
        highlight=False,
    )
