"""``hub demo``: the command; the scenario (``demo_run``) drives the simulated systems of the
``demo`` extra, imported only when the demo runs, so a production install without them keeps
every other command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from entrypoints.cli.context import fail, settings_from

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    orders: int = typer.Option(60, "--orders", min=1, max=100_000, help="simulated Shopify orders"),
    serve_after: bool = typer.Option(False, "--serve", help="keep the HTTP server running afterwards"),
    seed: int = typer.Option(7, "--seed", help="random seed of the simulation"),
    chart: Path = typer.Option(Path("hub-plan.svg"), "--chart", help="where to write the planning chart"),
    fresh: bool = typer.Option(
        False, "--fresh", help="start over on a database an earlier run filled (its SQLite file kept as .bak)"
    ),
) -> None:
    """Feed simulated shop traffic through the hub and show what a user sees."""
    settings = settings_from(ctx)
    try:
        from entrypoints.cli.demo_run import run_demo
    except ModuleNotFoundError as error:
        fail(
            f"hub demo needs the simulated systems of the demo extra ({error.name} is not installed): "
            + escape("pip install -e '.[demo]'")
        )
    run_demo(settings, orders=orders, serve_after=serve_after, seed=seed, chart=chart, fresh=fresh)
