"""``hub run`` (everything in one process) and ``hub init`` (a commented starter config)."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from adapters.filedrop import drop_watchers
from adapters.soap import SoapRunner
from adapters.soap.status import soap_status
from adapters.webshop import WebhookHealth, webhook_router, webhook_secrets
from entrypoints.api import create_app
from entrypoints.background import BackgroundProcessor
from entrypoints.cli.context import console, fail, open_hub
from hub.bootstrap import Hub
from hub.intake import receiving
from hub.settings_starter import starter_file

__all__ = ["init", "run", "serve"]


def init(
    path: Path = typer.Option(Path("hub.toml"), "--path", help="where to write the file"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
) -> None:
    """Write a commented starter hub.toml."""
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    path.write_text(starter_file(), encoding="utf-8")
    console.print(f"wrote {path}; edit it, then run 'hub run'")


def serve(hub: Hub, host: str, port: int) -> None:
    """Adapters, processing, projections, HTTP API and /metrics in this process, until Ctrl-C.

    With ``transport = "kafka"`` this is the API process of a distributed hub: webhooks are
    published to Kafka, and workers and projection runners do the rest.
    """
    if hub.settings.transport == "kafka":
        _serve_distributed(hub, host, port)
        return
    background = BackgroundProcessor(hub)
    secrets = webhook_secrets(hub.ports)
    health = WebhookHealth(hub.ports, secrets)
    soap = SoapRunner(hub.ports, on_stored=background.wake)
    app = create_app(
        hub,
        [webhook_router(hub.ports, secrets, on_stored=background.wake, health=health)],
        [health.report, lambda: soap_status(hub.ports)],
    )
    watchers = drop_watchers(hub.ports, on_stored=background.wake)
    background.start()
    soap.start()
    for watcher in watchers:
        watcher.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        for watcher in watchers:
            watcher.stop()
        soap.stop()
        background.stop()


def _serve_distributed(hub: Hub, host: str, port: int) -> None:
    from hub.streaming.publisher import RawPublisher

    publisher = RawPublisher(hub.settings, hub.catalog, hub.metrics)
    secrets = webhook_secrets(hub.ports)
    health = WebhookHealth(hub.ports, secrets)
    app = create_app(
        hub,
        [webhook_router(hub.ports, secrets, intake=publisher.publish, health=health)],
        [health.report, lambda: soap_status(hub.ports)],
    )
    app.router.on_startup.append(publisher.start)
    app.router.on_shutdown.append(publisher.stop)
    with receiving(hub) as receive:
        soap = SoapRunner(hub.ports, receive=receive)
        soap.start()
        try:
            uvicorn.run(app, host=host, port=port, log_level="info")
        finally:
            soap.stop()


def run(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="default: http_host setting"),
    port: int | None = typer.Option(None, "--port", help="default: http_port setting"),
) -> None:
    """Run the hub: webhooks, processing, projections, HTTP API and /metrics in one process."""
    with open_hub(ctx) as hub:
        serve(
            hub,
            host or hub.settings.http_host,
            port if port is not None else hub.settings.http_port,
        )
