"""``hub run`` (everything in one process) and ``hub init`` (a commented starter config)."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from adapters.filedrop import drop_watchers
from adapters.soap import SoapRunner, receiving
from adapters.soap.status import soap_status
from adapters.webshop import WebhookHealth, webhook_router, webhook_secrets
from entrypoints.api import create_app
from entrypoints.background import BackgroundProcessor
from entrypoints.cli.context import console, fail, open_hub
from hub.bootstrap import Hub

__all__ = ["init", "run", "serve"]

STARTER = """# hub.toml — configuration of the integration hub.
# Every key is optional; the values shown are the defaults. Environment variables
# HUB_<KEY> (e.g. HUB_DATABASE_URL) override this file.

# sqlite:///path/hub.db (embedded, no server) or postgresql://user:password@host:5432/db
database_url = "sqlite:///hub.db"

# Folder holding one mapping folder per source system (mappings/<system>/*.yaml).
# mappings_dir = "mappings"

# Messages committed per processing transaction.
batch_size = 500

# Largest webhook body accepted, in bytes (larger requests get HTTP 413).
max_body_bytes = 1048576

# Where `hub run` listens.
http_host = "127.0.0.1"
http_port = 8080

[tracking]
# An order is flagged when it stays between two stages longer than this.
paid_not_shipped_hours = 48
shipped_not_paid_hours = 24
delivered_unconfirmed_days = 7
# A payment/shipment for an order that never arrives becomes a dead letter after this.
parked_timeout_hours = 24
# Paid in full within this shortfall per payment row (or instalment), per currency;
# default: half the currency's minor unit (0.005 EUR). Rebuild order_tracking after a change.
# payment_tolerance = {EUR = "0.01"}

[planning]
# Demand-driven planning (DDMRP): average daily usage over a rolling window of sales orders.
adu_window_days = 28
adu_method = "blended"       # past | forward | blended
# spike_horizon_days = 10    # default: each item's lead time
schedule_days = 28           # days the load chart shows
# Buffer profiles B11, M21 and D22 exist by default; a table here replaces them all:
# [planning.profiles.M21]
# lead_time_factor = 0.45
# variability_factor = 0.5
# spike_threshold = 0.5

[customers.matching]
# Identity resolution thresholds on the Fellegi-Sunter score: in bits for the default model, as
# probabilities (one person) for a model trained on this hub's records; after a change,
# `hub customers rematch` resolves every record again with them.
link = 12.0
review = 6.0
veto = 0.0
link_probability = 0.9
review_probability = 0.1
veto_probability = 0.001
train_after = 1000           # learn the model from the records once this many are held (0: never)
# duplicate_free = ["erp"]   # systems without duplicates: two of their records need an e-mail in common
# [customers.matching.attributes]   # open attributes to compare: exact | fuzzy | numeric
# occupation = "fuzzy"
# Golden-record rules per attribute: see docs/IDENTITY.md.
# [customers.survivorship]
# given_name = { rule = "source_priority", systems = ["crm", "shopify", "erp"] }

[privacy]
# Personal fields are encrypted with a key per person; keys live in their own store.
# key_store_url = "sqlite:///hub.keys.db"   # default: beside a SQLite database, or the PostgreSQL one
kek_env = "HUB_KEY_ENCRYPTION_KEY"          # variable with the key-encryption key (base64 of 32 bytes)

# Distributed mode (transport = "kafka" at the top of this file): see docs/DISTRIBUTED.md.
# [streaming]
# brokers = "127.0.0.1:9092"
# partitions = 8

# One table per source system. adapter: shopify | woocommerce | carrier | file | soap.
# A legacy ERP polled over SOAP (and orders of other channels created in it) is a longer block:
# see deploy/erp-system.toml and docs/SOURCES.md ("Legacy ERP over SOAP"); a Salesforce CRM:
# deploy/crm-system.toml and "The CRM and the call centre" there.
[systems.shopify]
adapter = "shopify"
# mappings = "mappings/shopify"       # default: <mappings_dir>/<system name>
timezone = "UTC"                       # zone of local times that carry no offset
secret_env = "SHOPIFY_WEBHOOK_SECRET"  # environment variable holding the webhook secret
phone_region = "US"                    # region of phone numbers without a country code

[systems.woocommerce]
adapter = "woocommerce"
timezone = "Europe/Berlin"
secret_env = "WOOCOMMERCE_WEBHOOK_SECRET"
phone_region = "DE"
"""


def init(
    path: Path = typer.Option(Path("hub.toml"), "--path", help="where to write the file"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
) -> None:
    """Write a commented starter hub.toml."""
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    path.write_text(STARTER, encoding="utf-8")
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
    secrets = webhook_secrets(hub)
    health = WebhookHealth(hub, secrets)
    soap = SoapRunner(hub, on_stored=background.wake)
    app = create_app(
        hub,
        [webhook_router(hub, secrets, on_stored=background.wake, health=health)],
        [health.report, lambda: soap_status(hub)],
    )
    watchers = drop_watchers(hub, on_stored=background.wake)
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
    secrets = webhook_secrets(hub)
    health = WebhookHealth(hub, secrets)
    app = create_app(
        hub,
        [webhook_router(hub, secrets, intake=publisher.publish, health=health)],
        [health.report, lambda: soap_status(hub)],
    )
    app.router.on_startup.append(publisher.start)
    app.router.on_shutdown.append(publisher.stop)
    with receiving(hub) as receive:
        soap = SoapRunner(hub, receive=receive)
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
