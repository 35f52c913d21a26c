"""The distributed hub as an operator runs it: `hub run` (webhooks to Kafka), `hub worker`,
`hub project order_tracking` and `hub relay` as separate processes on Tansu and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.webshop.signatures import sign
from entrypoints.server_thread import free_port
from tests.conftest import ROOT
from tests.shop_messages import fixture

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def _eventually(check: Any, timeout: float, what: str, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2500:]}" for log in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def test_webhook_to_order_tracking_through_kafka_workers_and_runners(
    postgres_url: str, kafka_broker: str, tmp_path: Path
) -> None:
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("api", "worker", "project", "relay")}
    config = tmp_path / "hub.toml"
    config.write_text(
        f'database_url = "{postgres_url}"\ntransport = "kafka"\nhttp_port = {ports["api"]}\n'
        f'mappings_dir = "{ROOT / "mappings"}"\n'
        f'[streaming]\nbrokers = "{kafka_broker}"\napp_id = "{prefix}"\ntopic_prefix = "{prefix}"\n'
        "partitions = 2\nsession_timeout_seconds = 6\n"
        '[systems.shopify]\nadapter = "shopify"\nsecret_env = "TEST_SHOP_SECRET"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        TEST_SHOP_SECRET="s3cret",
        HUB_CONFIG=str(config),
        PYTHONUNBUFFERED="1",
        HUB_KEY_ENCRYPTION_KEY=os.environ["HUB_KEY_ENCRYPTION_KEY"],  # PostgreSQL: no KEK file fallback
    )
    commands = {
        "worker": ["worker", "--name", "worker-1", "--port", str(ports["worker"])],
        "project": ["project", "order_tracking", "--port", str(ports["project"])],
        "relay": ["relay", "--port", str(ports["relay"])],
        "api": ["run"],
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = []
    try:
        for name, arguments in commands.items():
            log = tmp_path / f"{name}.log"
            logs.append(log)
            with log.open("wb") as out:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "entrypoints", *arguments],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        base = f"http://127.0.0.1:{ports['api']}"
        _eventually(lambda: _get(f"{base}/health"), 60, "the API", logs)

        body = json.dumps(fixture("order")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign("s3cret", body),
        }
        answer = httpx.post(f"{base}/webhooks/shopify", content=body, headers=headers, timeout=30)
        assert answer.status_code == 200 and answer.json() == {"status": "stored"}

        def order_visible() -> Any:
            response = _get(f"{base}/orders/%231001")
            return response is not None and response.status_code == 200 and response.json()

        order = _eventually(order_visible, 90, "the order in order tracking", logs)
        assert order["stage"] == "placed"

        def everyone_reports() -> Any:
            health = _get(f"{base}/health")
            kinds = {p["kind"]: p for p in health.json()["processes"]} if health else {}
            return {"worker", "projection", "relay"} <= set(kinds) and kinds

        kinds = _eventually(everyone_reports, 30, "heartbeats of every process", logs)
        assert all(p["status"] in ("ok", "idle") for p in kinds.values()), kinds
        worker_metrics = httpx.get(f"http://127.0.0.1:{ports['worker']}/metrics").text
        assert (
            'hub_messages_processed_total{system="shopify",type="shopify.orders_create"} 1.0'
            in worker_metrics
        )
        assert httpx.get(f"http://127.0.0.1:{ports['worker']}/health").json()["status"] in ("ok", "idle")
        project_health = httpx.get(f"http://127.0.0.1:{ports['project']}/health").json()
        assert project_health["lag"] == 0
        relay = _eventually(
            lambda: (
                (h := _get(f"http://127.0.0.1:{ports['relay']}/health")) and h.json()["lag"] == 0 and h.json()
            ),
            30,
            "the relay to catch up",
            logs,
        )
        assert relay["position"] > 0
        assert "hub_projection_lag_events" in httpx.get(f"http://127.0.0.1:{ports['project']}/metrics").text
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                raise AssertionError(f"{name} did not stop on SIGTERM") from None
