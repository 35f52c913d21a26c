"""``hub privacy erase``: the right to erasure - of a person, not of one record - without breaking
the log."""

from __future__ import annotations

import getpass

import typer

from entrypoints.cli.context import console, counting_progress, fail, open_hub, print_json
from hub.audit.history import EntityNotFound
from hub.bootstrap import Hub
from hub.privacy.erasure import erase_request, record_of

__all__ = ["privacy"]

privacy = typer.Typer(help="Personal data: erasure by crypto-shredding.", no_args_is_help=True)


@privacy.command("erase")
def privacy_erase(
    ctx: typer.Context,
    subject: str = typer.Argument(
        ...,
        help=(
            "the person: a customer id (every source record the identity graph holds in that "
            "customer), SYSTEM:REF of one source record, or a source record's subject id"
        ),
    ),
    requested_by: str | None = typer.Option(
        None, "--requested-by", help="who asked for it (recorded; default: the operator's login name)"
    ),
    reason: str = typer.Option("the data subject's request", "--reason", help="why (recorded)"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Erase a person from every system's records at once: their keys destroyed, raw copies
    erased; views then show them as erased. The request is recorded in the log: who asked, why,
    which records, what was erased."""
    requested_by = requested_by or _operator()
    with open_hub(ctx) as hub:
        customer, records = _records(hub, subject)
        if not yes:
            console.print(
                f"{subject} is {len(records)} source record(s): {', '.join(records)}", highlight=False
            )
            if not typer.confirm(f"Erase all {len(records)} for good?"):
                fail("nothing erased", code=1)
        try:
            request, reports = erase_request(
                hub.store, records, customer=customer, requested_by=requested_by, reason=reason
            )
        except (LookupError, ValueError) as error:
            fail(str(error), code=1)
        hub.processor.forget_cached()
    if as_json:
        print_json(
            {
                "request": str(request),
                "customer": customer,
                "requested_by": requested_by,
                "reason": reason,
                "records": {record: report.to_json() for record, report in reports.items()},
            }
        )
        return
    for record, report in reports.items():
        console.print(
            f"erased {record}: {report.keys_destroyed} key(s) destroyed (the record and the "
            f"{report.activities_erased} interaction(s) and case(s) about it are unreadable), "
            f"{report.raw_messages_erased} raw message(s) and {report.dead_letters_erased} dead letter(s) "
            "erased",
            highlight=False,
        )
    console.print(
        f"erasure request {request} recorded (by {requested_by}: {reason}); the log still verifies",
        highlight=False,
    )


def _operator() -> str:
    """The login name running the command; a container's user may have none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "an operator without a login name"


def _records(hub: Hub, subject: str) -> tuple[str | None, list[str]]:
    """(the customer, if the subject is one, and) the source records to erase."""
    if ":" not in subject:
        members = hub.identity.members(subject)
        if members:
            return subject, members
    try:
        key = hub.history.resolve_customer(subject)
        return None, [record_of(hub.store, key)]
    except (EntityNotFound, LookupError) as error:
        fail(f"{error} (give a customer id, SYSTEM:REF, or a record's subject id)", code=1)


@privacy.command("rotate-kek")
def privacy_rotate_kek(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Wrap every subject key with the current key-encryption key, without stopping the hub.

    First give every hub process the new KEK as the current one (privacy.kek_env, kek_file or
    kek_command) and the old one as privacy.previous_kek_env: they read keys wrapped by either.
    Then run this; it may be stopped and run again. Then remove the previous KEK."""
    with open_hub(ctx) as hub:
        if hub.settings.privacy.previous_kek_env is None:
            fail(
                "no previous key-encryption key to rotate from: set privacy.previous_kek_env "
                "(HUB_PRIVACY__PREVIOUS_KEK_ENV) to the variable holding it, and the new one as current"
            )
        keys = hub.store.keys
        assert keys is not None  # a hub always has its key store
        with counting_progress(as_json) as progress:
            task = progress.add_task("re-wrapping subject keys", total=None)
            moved, held = keys.rewrap(lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        print_json({"rewrapped": moved, "keys": held})
        return
    console.print(
        f"{moved} of {held} subject key(s) re-wrapped with the current key-encryption key; "
        "remove the previous one once every process runs without it",
        highlight=False,
    )
