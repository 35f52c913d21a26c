"""``hub run`` as an operator starts it: a config file, a secret in the environment, webhooks in,
orders and metrics out over HTTP, stopped by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx

from adapters.webshop.signatures import sign
from entrypoints.server_thread import free_port
from simulators.erp import ErpSimulator
from tests.conftest import ROOT
from tests.shop_messages import fixture


def test_hub_run_receives_processes_and_serves(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "hub.toml").write_text(
        f'database_url = "sqlite:///{tmp_path / "hub.db"}"\nhttp_port = {port}\n'
        '[systems.shopify]\nadapter = "shopify"\nsecret_env = "TEST_SHOP_SECRET"\n'
    )
    server = start_hub_run(tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), "hub run did not come up", server)
        body = json.dumps(fixture("order")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign("s3cret", body),
        }
        assert httpx.post(f"{base}/webhooks/shopify", content=body, headers=headers).json() == {
            "status": "stored"
        }
        deadline = time.monotonic() + 15
        while (response := httpx.get(f"{base}/orders/%231001")).status_code != 200:
            assert time.monotonic() < deadline, "the order never became visible"
            time.sleep(0.05)
        assert response.json()["stage"] == "placed"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'hub_messages_processed_total{system="shopify",type="shopify.orders_create"} 1.0' in metrics
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_hub_run_creates_shop_orders_in_the_erp_and_follows_them_back(tmp_path: Path) -> None:
    """The documented ERP block (deploy/erp-system.toml), polled every 0.3 s by ``hub run``."""
    port = free_port()
    with ErpSimulator() as erp:
        erp.book.add_item("CAP-OLV", "Cap, olive", lead_time_days=5, lot_size=50, moq=100)
        block = (ROOT / "deploy" / "erp-system.toml").read_text()
        block = block.replace("http://erp.example:8089/erp?wsdl", erp.wsdl_url)
        block = block.replace("poll_interval_seconds = 30", "poll_interval_seconds = 0.3")
        (tmp_path / "hub.toml").write_text(
            f'database_url = "sqlite:///{tmp_path / "hub.db"}"\nhttp_port = {port}\n'
            '[systems.shopify]\nadapter = "shopify"\nsecret_env = "TEST_SHOP_SECRET"\n' + block
        )
        server = start_hub_run(tmp_path)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: _healthy(base), "hub run did not come up", server)
            order = {
                "id": 8001,
                "name": "#8001",
                "currency": "EUR",
                "total_price": "39.00",
                "created_at": "2026-11-20T10:00:00+01:00",
                "line_items": [{"sku": "CAP-OLV", "name": "Cap", "quantity": 2, "price": "19.50"}],
            }
            body = json.dumps(order).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": sign("s3cret", body),
            }
            assert httpx.post(f"{base}/webhooks/shopify", content=body, headers=headers).status_code == 200
            wait_until(lambda: "shopify:8001" in erp.book.by_external_ref, "no ERP order was created", server)
            number = erp.book.by_external_ref["shopify:8001"]
            erp.book.pay(erp.book.invoice(number), Decimal("39.00"))
            erp.book.deliver(number, "Z")

            def delivered() -> bool:
                response = httpx.get(f"{base}/orders/%238001")
                return response.status_code == 200 and response.json()["stage"] == "delivered"

            wait_until(delivered, "the ERP's payment and delivery never reached the order", server)
            tracked = httpx.get(f"{base}/orders/{number}", params={"system": "erp"}).json()
            assert tracked["order_ref"] == "8001" and tracked["paid_amount"] == "39.00"
            adapters = {a["name"]: a for a in httpx.get(f"{base}/health").json()["adapters"]}
            assert adapters["soap:erp"]["status"] == "ok"
            assert adapters["soap:erp"]["entities"][0]["cursor"]["since"]
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


def start_hub_run(folder: Path) -> subprocess.Popen:
    """``hub run`` with the hub.toml of FOLDER and the shop secret, as an operator starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["TEST_SHOP_SECRET"] = "s3cret"
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints", "run"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    condition: Callable[[], bool], failure: str, server: subprocess.Popen, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if server.poll() is not None:
            raise AssertionError(f"{failure}: hub run exited\n{server.stdout.read()}")
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)
