"""Benchmark: signed Shopify webhooks from many concurrent clients against ``hub run`` (a process
of its own, on SQLite, processing in the background as in production), against the inbox's raw
batched rate of the same machine in the same run.

    python bench/webhooks.py [--webhooks 5000] [--clients 50] [--runs 3]

For each run it prints accepted webhooks/s (the last answer's time), p50/p99 of the answer time,
the answers that were not 2xx and the requests that got no answer; then how many of the accepted
orders are in the inbox exactly once; the raw limit is ``Hub.receive`` of the same messages in
batches of 1,000 into a database of its own. Medians over the runs are printed last.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from adapters.webshop.signatures import sign  # noqa: E402
from entrypoints.server_thread import free_port  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.settings import HubSettings, SystemConfig  # noqa: E402
from tests.shop_messages import fixture  # noqa: E402

SECRET = "bench-secret"


def bodies(count: int) -> list[bytes]:
    """Distinct real Shopify orders (the fixture with its own id and name each)."""
    order = fixture("order")
    return [json.dumps({**order, "id": 7_000_000 + i, "name": f"#W{i}"}).encode() for i in range(count)]


def raw_rate(payloads: list[bytes], folder: Path) -> float:
    """The inbox alone, in batches of 1,000: what the storage can take."""
    hub = bootstrap(
        HubSettings(
            database_url=f"sqlite:///{folder / 'raw.db'}",
            systems={"shopify": SystemConfig(adapter="shopify")},
        )
    )
    envelopes = [{"headers": {"x-shopify-topic": "orders/create"}, "body": json.loads(p)} for p in payloads]
    try:
        began = time.perf_counter()
        for start in range(0, len(envelopes), 1000):
            hub.receive("shopify", envelopes[start : start + 1000])
        return len(envelopes) / (time.perf_counter() - began)
    finally:
        hub.close()


def start_hub_run(folder: Path, port: int) -> subprocess.Popen:
    (folder / "hub.toml").write_text(
        f'database_url = "sqlite:///{folder / "hub.db"}"\nhttp_port = {port}\n'
        '[systems.shopify]\nadapter = "shopify"\nsecret_env = "BENCH_SHOP_SECRET"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["BENCH_SHOP_SECRET"] = SECRET
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints", "run"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("hub run exited before it was healthy")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("hub run did not come up within 60 s")


def blast(port: int, payloads: list[bytes], clients: int, processes: int = 2) -> dict[str, float]:
    """``clients`` keep-alive connections, spread over ``processes`` processes of threads with
    the standard library's HTTP client (a heavier client in one process measured itself: about
    270 requests/s against an endpoint that does nothing)."""
    shares = [payloads[i::processes] for i in range(processes)]
    per_process = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        began = time.perf_counter()
        parts = list(pool.map(_client_process, [port] * processes, shares, per_process))
        elapsed = time.perf_counter() - began
    latencies = sorted(x for part in parts for x in part[0])
    failed = sum(part[1] for part in parts)
    unanswered = sum(part[2] for part in parts)
    accepted = len(latencies) - failed
    return {
        "accepted_per_s": accepted / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0,
        "not_2xx": float(failed),
        "unanswered": float(unanswered),
    }


def _client_process(port: int, payloads: list[bytes], clients: int) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    counts = [0, 0]  # not 2xx, unanswered
    lock = threading.Lock()

    def client(mine: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body in mine:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": sign(SECRET, body),
            }
            began = time.perf_counter()
            try:
                connection.request("POST", "/webhooks/shopify", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    counts[1] += 1
                continue
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                if response.status >= 300:
                    counts[0] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(payloads[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, counts[0], counts[1]


def stored_once(folder: Path, expected: int) -> bool:
    import sqlite3

    with sqlite3.connect(folder / "hub.db") as connection:
        total, distinct = connection.execute(
            "SELECT COUNT(*), COUNT(DISTINCT message_id) FROM hub_inbox WHERE system = 'shopify'"
        ).fetchone()
    return total == distinct == expected


def run(webhooks: int, clients: int) -> dict[str, float]:
    payloads = bodies(webhooks)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        raw = raw_rate(payloads, folder)
        port = free_port()
        server = start_hub_run(folder, port)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, server)
            figures = blast(port, payloads, clients)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        figures["raw_rate"] = raw
        figures["ratio"] = figures["accepted_per_s"] / raw
        figures["stored_once"] = 1.0 if stored_once(folder, webhooks) else 0.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.webhooks:,} signed Shopify orders from {args.clients} concurrent clients "
        "against hub run (SQLite)"
    )
    results = []
    for number in range(1, args.runs + 1):
        figures = run(args.webhooks, args.clients)
        results.append(figures)
        print(
            f"run {number}: {figures['accepted_per_s']:,.0f} accepted/s, p50 {figures['p50_ms']:.0f} ms, "
            f"p99 {figures['p99_ms']:.0f} ms, not 2xx {figures['not_2xx']:.0f}, unanswered "
            f"{figures['unanswered']:.0f}; inbox raw {figures['raw_rate']:,.0f} msg/s, ratio "
            f"{figures['ratio']:.3f}; every accepted order stored once: {bool(figures['stored_once'])}",
            flush=True,
        )
    medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"medians: {medians['accepted_per_s']:,.0f} accepted/s, p50 {medians['p50_ms']:.0f} ms, "
        f"p99 {medians['p99_ms']:.0f} ms, not 2xx {medians['not_2xx']:.0f}, unanswered "
        f"{medians['unanswered']:.0f}; ratio to the inbox's raw batched rate {medians['ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
