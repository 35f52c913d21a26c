"""``hub run`` as an operator starts it: a config file, a secret in the environment, webhooks in,
orders and metrics out over HTTP, stopped by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from adapters.webshop.signatures import sign
from hub.server_thread import free_port
from tests.shop_messages import fixture


def test_hub_run_receives_processes_and_serves(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "hub.toml").write_text(
        f'database_url = "sqlite:///{tmp_path / "hub.db"}"\nhttp_port = {port}\n'
        '[systems.shopify]\nadapter = "shopify"\nsecret_env = "TEST_SHOP_SECRET"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["TEST_SHOP_SECRET"] = "s3cret"
    server = subprocess.Popen(
        [sys.executable, "-m", "hub", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "hub run did not come up"
            time.sleep(0.1)
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
