"""The ``hub`` command line. Its commands and ``--json`` shapes are a contract (docs/CLI.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from entrypoints.cli.accounting import accounting
from entrypoints.cli.adapters import adapters, outbound
from entrypoints.cli.audit import audit
from entrypoints.cli.customers import customers
from entrypoints.cli.demo import demo
from entrypoints.cli.files import files
from entrypoints.cli.ingest import ingest, process
from entrypoints.cli.plan import plan
from entrypoints.cli.privacy import privacy
from entrypoints.cli.queries import deadletters, mappings, orders, parked, projections
from entrypoints.cli.server import init, run
from entrypoints.cli.streaming import project, relay, topics, worker
from hub.runtime import tune_garbage_collector

__all__ = ["app", "main"]

app = typer.Typer(
    help="Event-sourced integration hub between CRM, ERP and supply-chain systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="config file (default: $HUB_CONFIG or ./hub.toml if present)"
    ),
) -> None:
    ctx.obj = {"config": config}


app.command()(init)
app.command()(ingest)
app.command()(process)
app.command()(run)
app.command()(demo)
app.command()(worker)
app.command()(project)
app.command()(relay)
app.command()(topics)
app.command()(accounting)
app.add_typer(orders, name="orders")
app.add_typer(customers, name="customers")
app.add_typer(deadletters, name="deadletters")
app.add_typer(parked, name="parked")
app.add_typer(projections, name="projections")
app.add_typer(mappings, name="mappings")
app.add_typer(adapters, name="adapters")
app.add_typer(outbound, name="outbound")
app.add_typer(files, name="files")
app.add_typer(plan, name="plan")
app.add_typer(audit, name="audit")
app.add_typer(privacy, name="privacy")


def main() -> None:
    tune_garbage_collector()
    app(prog_name="hub")  # also under ``python -m entrypoints``: the help names the command people type
