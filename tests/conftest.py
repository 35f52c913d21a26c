"""Shared test parts: loopback-only network, real SQLite files and a real PostgreSQL server.

PostgreSQL: ``HUB_TEST_DATABASE_URL`` (an admin URL such as ``postgresql://postgres@127.0.0.1/postgres``)
when set, otherwise a private server started from the ``pgserver`` wheel. Every test gets its own
database, created and dropped here.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from entrypoints.settings import Settings
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings, SystemConfig
from simulators.erp import ErpSimulator

# A fixed key-encryption key for every test and every process a test starts (production sets its own).
os.environ.setdefault("HUB_KEY_ENCRYPTION_KEY", "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=")

ROOT = Path(__file__).resolve().parent.parent
# Real product inputs, copied from ../shared/inputs (origins and licences in fixtures/SOURCES.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures"

TEST_SECRETS = {
    "shopify": "shopify-test-secret",
    "woocommerce": "woo-test-secret",
    "carrier": "carrier-test-secret",
}
TEST_SYSTEMS = {
    "shopify": SystemConfig(adapter="shopify", secret_env="SHOPIFY_WEBHOOK_SECRET"),
    "woocommerce": SystemConfig(
        adapter="woocommerce", secret_env="WOOCOMMERCE_WEBHOOK_SECRET", timezone="Europe/Berlin"
    ),
    "feedback": SystemConfig(adapter="file", timezone="Europe/Berlin"),
    "carrier": SystemConfig(adapter="carrier", secret_env="CARRIER_WEBHOOK_SECRET"),
    "wms": SystemConfig(adapter="file", timezone="Europe/Berlin"),
}


# -- no network beyond loopback --------------------------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OSError(f"tests may only connect to loopback addresses, not {host!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    configured = os.environ.get("HUB_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver

    # Not under pytest's basetemp: another pytest session on the machine prunes old basetemps,
    # and with them the data directory of a server still in use.
    folder = Path(tempfile.mkdtemp(prefix="hub-test-pgdata-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin_connect(admin_url: str) -> psycopg.Connection[Any]:
    # psycopg reads libpq URIs, including pgserver's ?host=/socket/dir form.
    return psycopg.connect(admin_url, autocommit=True)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect(postgres_admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        with _admin_connect(postgres_admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test against both backends (the abstract-test-case habit of eventsourcing)."""
    return request.getfixturevalue(f"{request.param}_url")


# -- hubs ------------------------------------------------------------------------------------------


def hub_settings(database_url: str, **overrides: Any) -> HubSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "mappings_dir": ROOT / "mappings",
        "systems": TEST_SYSTEMS,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def make_hub(database_url: str) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def make(**overrides: Any) -> Hub:
        mapping_folders = overrides.pop("mapping_folders", None)
        hub = bootstrap(hub_settings(database_url, **overrides), mapping_folders=mapping_folders)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.close()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


# -- the legacy ERP -------------------------------------------------------------------------------


@pytest.fixture
def erp() -> Iterator[ErpSimulator]:
    """The simulated legacy ERP (spyne) on a loopback port, with a small item master."""
    with ErpSimulator() as simulator:
        for sku in ("TEE-BLK-M", "CAP-OLV", "SOCK-3PK"):
            simulator.book.add_item(sku, sku.title(), lead_time_days=5, lot_size=50, moq=100)
        yield simulator


# -- Kafka-protocol broker -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Tansu broker shared by the session (tests use their own topics)."""
    from tests.streaming_support import TansuBroker

    broker = TansuBroker(tmp_path_factory.mktemp("tansu") / "tansu.log").start()
    try:
        yield broker.address
    finally:
        broker.stop()
