"""Distributed-mode commands: ``hub worker``, ``hub project NAME``, ``hub relay``, ``hub topics``."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

import typer

from entrypoints.api import create_process_app
from entrypoints.cli.context import console, fail, open_hub
from entrypoints.projection_runner import ProjectionRunner
from entrypoints.server_thread import ServerThread
from hub.bootstrap import Hub

__all__ = ["project", "relay", "topics", "worker"]


def _require_streaming() -> None:
    try:
        import aiokafka  # noqa: F401
        import faust  # noqa: F401
    except ImportError:
        fail("distributed mode needs the streaming extra: pip install 'integration-hub[streaming]'")


def _create_topics(hub: Hub) -> list[str]:
    from hub.streaming.topics import create_topics, raw_systems

    try:
        return asyncio.run(create_topics(hub.settings, raw_systems(hub.settings)))
    except Exception as error:
        fail(f"Kafka at {hub.settings.streaming.brokers!r} is not reachable: {error}")


def topics(ctx: typer.Context) -> None:
    """Create the hub's Kafka topics (raw per system, dead letters, events) where missing."""
    _require_streaming()
    with open_hub(ctx) as hub:
        created = _create_topics(hub)
        console.print(f"created: {', '.join(created) or 'nothing (all topics exist)'}")


def worker(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help="heartbeat name (default: host and pid)"),
    port: int | None = typer.Option(None, "--port", help="/metrics and /health port (default: setting)"),
) -> None:
    """Consume the raw Kafka topics and process them into the event store, until stopped."""
    _require_streaming()
    import faust

    from entrypoints.quiet_logs import quiet_client_libraries
    from entrypoints.worker import create_worker_app

    quiet_client_libraries()  # a broker away for a few seconds: a line of each kind, not hundreds
    with open_hub(ctx) as hub:
        if hub.store.dialect != "postgres":
            console.print("[yellow]warning:[/] several workers need PostgreSQL; SQLite allows one")
        _create_topics(hub)
        app = create_worker_app(hub, name=name, web_port=port)
        faust.Worker(app, loglevel="info", redirect_stdouts=False).execute_from_commandline()


def _serve_until_signal(hub: Hub, health: Any, port: int | None, body: Any) -> None:
    """Run ``body(stop)`` with /metrics and /health served, until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    http_port = hub.settings.streaming.metrics_port if port is None else port
    with ServerThread(create_process_app(hub, health), hub.settings.http_host, http_port or None) as server:
        console.print(f"/metrics and /health on {server.url}")
        body(stop)


def project(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="projection to keep up to date (see 'hub projections status')"),
    port: int | None = typer.Option(None, "--port", help="/metrics and /health port (default: setting)"),
) -> None:
    """Follow the event log and keep one projection current, until stopped."""
    with open_hub(ctx) as hub:
        try:
            runner = ProjectionRunner(hub, name)
        except KeyError as error:
            fail(str(error.args[0]))
        stall_after = hub.settings.streaming.stall_after_seconds

        def health() -> dict[str, Any]:
            position, lag = runner.lag()
            status = runner.heartbeat.status(lag, stall_after)
            return {"status": status, "projection": name, "position": position, "lag": lag}

        console.print(f"following the log for projection {name!r}")
        _serve_until_signal(hub, health, port, runner.run)


def relay(
    ctx: typer.Context,
    port: int | None = typer.Option(None, "--port", help="/metrics and /health port (default: setting)"),
) -> None:
    """Publish stored events to the outbound Kafka topic, in order per aggregate, until stopped."""
    _require_streaming()
    from entrypoints.quiet_logs import quiet_client_libraries
    from hub.streaming.relay import EventRelay

    quiet_client_libraries()
    with open_hub(ctx) as hub:
        _create_topics(hub)
        relay = EventRelay(hub.store, hub.settings.streaming, hub.metrics)
        stall_after = hub.settings.streaming.stall_after_seconds

        def health() -> dict[str, Any]:
            position = hub.store.position(relay.tracking)
            lag = max(hub.store.head() - position, 0)
            status = relay.heartbeat.status(lag, stall_after)
            return {"status": status, "topic": relay.topic, "position": position, "lag": lag}

        def body(stop: threading.Event) -> None:
            async def main() -> None:
                await relay.start()
                try:
                    await relay.run(stop)
                finally:
                    await relay.stop()

            asyncio.run(main())

        console.print(f"relaying stored events to {relay.topic!r}")
        _serve_until_signal(hub, health, port, body)
