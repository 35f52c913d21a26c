"""Soak: N minutes of mixed traffic from every adapter on PostgreSQL, with faults at random.

    python bench/soak.py --minutes 30

Traffic: signed Shopify webhooks (orders, payments, fulfilments of new and returning customers)
from 8 clients that re-send whatever was not answered 200, as a shop does; the simulated ERP
over SOAP (new debtors, orders, invoices, payments and deliveries every second, polled every 2 s,
shop orders created in it by the outbound sync); warehouse CSV files and a partner's X12 850
interchanges dropped into folders. ``hub run`` takes all of it.

Faults, one at a time at random intervals: PostgreSQL stopped for a few seconds (``immediate``,
a crash) and started; ``hub run`` killed with SIGKILL and started again; the ERP process gone for
a few seconds (killed mid-page or mid-create) and back; ERP faults armed (HTTP 500, a dropped
connection, a malformed answer, a slow call). Each recovery is timed until ``/health`` answers
200 again. The hub's memory is sampled throughout.

At the end: traffic stops, the hub catches up, and ``hub accounting`` must balance with nothing
unaccounted and nothing doubled, every webhook a shop saw answered 200 must be in the inbox
exactly once, and every ERP debtor and order must be known to the hub. Exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median
from tempfile import mkdtemp
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from entrypoints.server_thread import free_port  # noqa: E402
from simulators.bulk import shop_messages  # noqa: E402
from simulators.erp import ErpSimulator  # noqa: E402
from simulators.planning import PurchaseOrder, x12_purchase_orders  # noqa: E402
from simulators.traffic import CATALOGUE  # noqa: E402
from simulators.warehouse import drop_file  # noqa: E402
from tests.faults import PrivatePostgres, WebhookSender, hub_environment, run_hub  # noqa: E402

SECRET = "soak-secret"
KEK = "c29hay1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="


def configuration(folder: Path, database_url: str, port: int, erp: ErpSimulator) -> Path:
    erp_block = (ROOT / "deploy" / "erp-system.toml").read_text()
    erp_block = erp_block.replace('wsdl = "http://erp.example:8089/erp?wsdl"', f'wsdl = "{erp.wsdl_url}"')
    for setting, value in (
        ("poll_interval_seconds = 30", "poll_interval_seconds = 2"),
        ("circuit_reset_seconds = 60", "circuit_reset_seconds = 5"),
        ("backoff_max_seconds = 30", "backoff_max_seconds = 2"),
        ("timeout_seconds = 10", "timeout_seconds = 5"),
        ("operation_timeout_seconds = 30", "operation_timeout_seconds = 10"),
    ):
        erp_block = erp_block.replace(setting, value)
    (folder / "drops" / "wms").mkdir(parents=True)
    (folder / "drops" / "edi").mkdir(parents=True)
    config = folder / "hub.toml"
    config.write_text(
        f'database_url = "{database_url}"\nhttp_port = {port}\n\n'
        '[systems.shopify]\nadapter = "shopify"\nsecret_env = "SOAK_SHOP_SECRET"\n\n'
        f'[systems.wms]\nadapter = "file"\ntimezone = "Europe/Berlin"\n'
        f'drop_folder = "{folder / "drops" / "wms"}"\nsettle_seconds = 0\n\n'
        f'[systems.edi]\nadapter = "file"\ndrop_folder = "{folder / "drops" / "edi"}"\nsettle_seconds = 0\n\n'
        + erp_block
    )
    return config


class Hub:
    """``hub run`` as a child process: started, killed, started again."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.base = folder, f"http://127.0.0.1:{port}"
        self.env = hub_environment(SOAK_SHOP_SECRET=SECRET, HUB_KEY_ENCRYPTION_KEY=KEK)
        self.log = (folder / "hub.log").open("a")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints", "run"],
            cwd=self.folder,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(self.base + "/health", timeout=5)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def rss_mib(self) -> float | None:
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_hub(self.folder, self.env, *args, timeout=600)

    def wait_healthy(self, timeout: float = 120) -> float:
        began = time.monotonic()
        while self.health() is None:
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"hub run not healthy after {timeout:g}s; see {self.folder / 'hub.log'}")
            time.sleep(0.2)
        return time.monotonic() - began


class ErpTraffic:
    """The ERP's own business: debtors, orders, invoices, payments, deliveries."""

    def __init__(self, erp: ErpSimulator, rng: random.Random) -> None:
        self.erp, self.rng = erp, rng
        self.debtors: list[str] = []
        self.orders: list[str] = []

    def step(self) -> None:
        book = self.erp.book
        with book.lock:
            book.tick(self.rng.randint(1, 5))
            if not self.debtors or self.rng.random() < 0.3:
                n = len(self.debtors)
                self.debtors.append(
                    book.add_debtor(f"Soak{n}", name2="Eva", city="Köln", email=f"soak{n}@example.org")
                )
            sku, name, price = self.rng.choice(CATALOGUE)
            debtor = self.rng.choice(self.debtors)
            order = book.add_order(
                debtor, [(sku, name, Decimal(self.rng.randint(1, 5)), Decimal(str(price)))]
            )
            self.orders.append(order)
            if self.rng.random() < 0.6:
                book.pay(book.invoice(order), Decimal("10"))
            if self.rng.random() < 0.4:
                book.deliver(order, "V")


class Drops:
    """The warehouse's stock files and a partner's purchase orders, dropped as senders do."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder, self.rng = folder, rng
        self.files = Counter[str]()
        self.rows = Counter[str]()

    def step(self, n: int) -> None:
        at = datetime(2026, 11, 2, 8, 0) + timedelta(minutes=n)
        stock = [
            f"STOCK,{sku},WH1,{self.rng.randint(20, 400)},{self.rng.randint(0, 25)},{at:%Y-%m-%d %H:%M:%S}"
            for sku, _, _ in CATALOGUE
        ]
        drop_file(
            self.folder / "wms",
            f"stock-{n:05d}.csv",
            "record_type,sku,location,on_hand,allocated,counted_at",
            stock,
        )
        self.files["wms"] += 1
        self.rows["wms"] += len(stock)
        if n % 3 == 0:
            orders = [
                PurchaseOrder(
                    f"SOAK-{n}-{i}",
                    date(2026, 11, 2),
                    date(2026, 11, 20),
                    [(sku, self.rng.randint(1, 20), Decimal(str(price))) for sku, _, price in CATALOGUE[:2]],
                )
                for i in range(2)
            ]
            text = x12_purchase_orders(orders, sender="SOAKPARTNER", receiver="HUB", control=n + 1, at=at)
            drop_file(self.folder / "edi", f"orders-{n:05d}.edi", None, [text])
            self.files["edi"] += 1
            self.rows["edi"] += len(orders)


def restart_erp(erp: ErpSimulator, down: float) -> ErpSimulator:
    port = int(erp.url.split(":")[2].split("/")[0])
    erp.stop()
    time.sleep(down)
    return ErpSimulator(book=erp.book, port=port).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=25, help="webhooks per second")
    parser.add_argument("--fault-every", type=float, default=45, help="mean seconds between faults")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    folder = Path(mkdtemp(prefix="hub-soak-"))
    postgres = PrivatePostgres()
    erp = ErpSimulator().start()
    database_url = postgres.create_database("hub_soak")
    port = free_port()
    configuration(folder, database_url, port, erp)
    hub = Hub(folder, port)
    print(
        f"soak: {options.minutes:g} min in {folder}, PostgreSQL {postgres.folder}, seed {options.seed}",
        flush=True,
    )
    hub.start()
    hub.wait_healthy()

    stop = threading.Event()
    sender = WebhookSender(hub.base, SECRET)
    envelopes = shop_messages(10**7, seed=options.seed, customers=20_000)
    sending = threading.Thread(
        target=sender.send_all,
        args=(envelopes,),
        kwargs={"deadline_seconds": 10**6, "stop": stop, "rate": options.rate},
    )
    erp_traffic, drops = ErpTraffic(erp, rng), Drops(folder / "drops", rng)

    def business() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            erp_traffic.erp = erp_holder[0]
            erp_traffic.step()
            if n % 10 == 0:
                drops.step(n // 10)
            stop.wait(1.0)

    erp_holder = [erp]
    background = threading.Thread(target=business)
    sending.start()
    background.start()

    faults: Counter[str] = Counter()
    recoveries: dict[str, list[float]] = {}
    memory: list[tuple[float, float]] = []
    began = time.monotonic()
    end = began + options.minutes * 60
    next_fault = began + rng.expovariate(1 / options.fault_every)
    next_sample = began
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                rss = hub.rss_mib()
                if rss is not None:
                    memory.append(((now - began) / 60, rss))
                next_sample = now + 30
            if now < next_fault:
                time.sleep(0.5)
                continue
            kind = rng.choice(["postgres", "hub_kill", "erp_down", "erp_faults"])
            faults[kind] += 1
            print(f"  {(now - began) / 60:5.1f} min  fault {kind}", flush=True)
            if kind == "postgres":
                postgres.stop()
                time.sleep(rng.uniform(2, 6))
                postgres.start()
            elif kind == "hub_kill":
                hub.kill()
                time.sleep(1)
                hub.start()
            elif kind == "erp_down":
                erp_holder[0] = restart_erp(erp_holder[0], rng.uniform(2, 8))
            else:
                for fault in rng.sample(["http500", "drop", "malformed", "slow"], 2):
                    erp_holder[0].faults.arm(fault, times=rng.randint(1, 3), seconds=3)
            recoveries.setdefault(kind, []).append(hub.wait_healthy())
            next_fault = time.monotonic() + rng.expovariate(1 / options.fault_every)
    finally:
        stop.set()
        sending.join()
        background.join()

    print("traffic stopped; waiting for the hub to catch up", flush=True)
    settled = time.monotonic()
    while True:
        health = hub.health()
        if (
            health
            and health["inbox_backlog"] == 0
            and all(p["lag"] == 0 for p in health["projections"])
            and not any(
                f.name.endswith((".csv", ".edi"))
                for d in ("wms", "edi")
                for f in (folder / "drops" / d).iterdir()
            )
        ):
            break
        if time.monotonic() - settled > 600:
            print("the hub did not catch up within 10 minutes", flush=True)
            break
        time.sleep(1)
    time.sleep(5)  # one more ERP poll after the last change
    hub.stop()
    catch_up = hub.command("process")
    listed = hub.command("orders", "list", "--json")
    tracked = {o["order_ref"] for o in json.loads(listed.stdout or "[]") if o["system"] == "erp"}
    erp_known = len(tracked & set(erp_traffic.orders))
    accounting = hub.command("accounting", "--json")
    report = json.loads(accounting.stdout) if accounting.stdout.strip().startswith("{") else {}

    with psycopg.connect(database_url, autocommit=True) as connection:
        stored = dict(connection.execute("SELECT system, COUNT(*) FROM hub_inbox GROUP BY system").fetchall())
    erp_holder[0].stop()
    postgres.close()

    # Each webhook body is a message of its own: what the shop saw taken is what the inbox holds.
    taken = set(sender.taken)
    lost_webhooks = len(taken) - stored.get("shopify", 0)
    systems = {s["system"]: s for s in report.get("systems", [])}
    print(f"\nsoak of {options.minutes:g} min, seed {options.seed}; hub run's log: {folder / 'hub.log'}")
    print("faults injected: " + ", ".join(f"{k} ×{n}" for k, n in sorted(faults.items())) or "none")
    for kind, times in sorted(recoveries.items()):
        print(f"  recovery after {kind}: median {median(times):.1f} s, longest {max(times):.1f} s")
    print("webhook answers: " + ", ".join(f"{k} ×{n}" for k, n in sender.answers.most_common()))
    print(f"files dropped: {dict(drops.files)}, rows/documents {dict(drops.rows)}")
    print(f"ERP: {len(erp_traffic.debtors)} debtors and {len(erp_traffic.orders)} orders entered")
    if memory:
        first = median(m for t, m in memory if t <= memory[0][0] + 5)
        last = median(m for _, m in memory[-5:])
        samples = " ".join(f"{t:.0f}m:{m:.0f}" for t, m in memory[:: max(1, len(memory) // 12)])
        print(f"memory of hub run (MiB at minute): {samples}")
        print(f"  median of the first 5 min {first:.0f} MiB, of the last 5 samples {last:.0f} MiB")
    print(f"ERP orders the hub tracks: {erp_known} of {len(erp_traffic.orders)}")
    print("accounting:")
    for name, account in sorted(systems.items()):
        print(
            f"  {name:10} received {account['received']:>7} stored {account['stored']:>7} "
            f"duplicates {account['duplicates']:>5} refused {account['refused']:>4} applied "
            f"{account['applied']:>7} dead {account['dead_lettered']:>4} waiting {account['waiting']:>3} "
            f"difference {account['difference']}"
        )
    balanced = bool(report.get("balanced"))
    unaccounted, doubled = len(report.get("unaccounted", [])), len(report.get("doubled", []))
    print(f"  balanced: {balanced}; unaccounted {unaccounted}; doubled {doubled}")
    print(f"webhooks answered 200: {len(taken)}; lost {lost_webhooks}; inbox {dict(sorted(stored.items()))}")
    ok = (
        balanced
        and lost_webhooks == 0
        and stored.get("shopify", 0) == len(taken)
        and catch_up.returncode == 0
    )
    print("RESULT: " + ("nothing lost, nothing twice" if ok else "FAILED"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
