"""The fault harness: real parts failed on purpose, by whoever started them.

* ``PrivatePostgres``: a PostgreSQL server of the test's own (the ``pgserver`` wheel's binaries),
  restarted or stopped mid-run - never the machine's shared server.
* ``file_size_limit``: a process whose files cannot grow past a size (a full disk, as SQLite sees
  one).
* ``WebhookSender``: a shop that signs its webhooks and re-sends each until it is answered 200, as
  Shopify does; it remembers what it was told, to compare with the hub's accounting.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from adapters.webshop.signatures import sign

__all__ = ["PrivatePostgres", "WebhookSender", "file_size_limit", "hub_environment", "run_hub"]


class PrivatePostgres:
    """A server on a Unix socket in its own data folder; ``restart`` is a crash (``immediate``:
    no checkpoint, recovery from the write-ahead log at start) unless told otherwise."""

    def __init__(self) -> None:
        import pgserver

        self.folder = Path(tempfile.mkdtemp(prefix="hub-fault-pgdata-"))
        self.server = pgserver.get_server(self.folder, cleanup_mode="stop")

    def url(self, database: str = "postgres") -> str:
        return self.server.get_uri(database)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self, mode: str = "immediate") -> None:
        self._pg_ctl("-m", mode, "restart")

    def stop(self, mode: str = "immediate") -> None:
        self._pg_ctl("-m", mode, "stop")

    def start(self) -> None:
        """Start a stopped server as pgserver started it: no TCP, the same socket folder."""
        from urllib.parse import parse_qs, urlsplit

        socket_dir = parse_qs(urlsplit(self.url()).query)["host"][0]
        self._pg_ctl("-o", f'-h "" -k {socket_dir}', "start")

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        # pg_ctl restart starts the server with the options it last ran with (postmaster.opts).
        pg_ctl(
            ["-w", "-l", str(self.folder / "log"), *args], pgdata=self.folder, user=self.server.system_user
        )

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn``: no file of the process grows past ``max_bytes`` (writes beyond fail with
    EFBIG instead of killing it with SIGXFSZ) - a full disk without filling the machine's."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


class WebhookSender:
    """Sends signed Shopify webhooks from several threads; an answer other than 200 (or none)
    means "not taken": the webhook is sent again after a pause, as the shop would."""

    def __init__(self, base_url: str, secret: str, clients: int = 8, pause: float = 0.2) -> None:
        self.base_url, self.secret, self.clients, self.pause = base_url, secret, clients, pause
        self.answers: Counter[str] = Counter()  # "200 stored", "503 database_unavailable", "no answer", …
        self.taken: dict[str, str] = {}  # "topic:id" → "stored" or "duplicate"
        self._lock = threading.Lock()

    def send_all(
        self,
        envelopes: Iterable[dict[str, Any]],
        deadline_seconds: float = 180,
        stop: threading.Event | None = None,
        rate: float | None = None,
    ) -> None:
        """Send every envelope (``{"headers": {"x-shopify-topic": …}, "body": …}``) until each
        was taken, the deadline passed or ``stop`` is set; ``rate``: messages per second in all."""
        source = iter(envelopes)
        deadline = time.monotonic() + deadline_seconds
        interval = self.clients / rate if rate else 0.0
        threads = [
            threading.Thread(target=self._client, args=(source, deadline, stop, interval))
            for _ in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _next(self, source: Iterator[dict[str, Any]]) -> dict[str, Any] | None:
        with self._lock:
            return next(source, None)

    def _client(
        self, source: Iterator[dict[str, Any]], deadline: float, stop: threading.Event | None, interval: float
    ) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while (envelope := self._next(source)) is not None:
                began = time.monotonic()
                self._deliver(client, envelope, deadline)
                if stop is not None and stop.is_set():
                    return
                if interval:
                    time.sleep(max(0.0, interval - (time.monotonic() - began)))

    def _deliver(self, client: httpx.Client, envelope: dict[str, Any], deadline: float) -> None:
        topic = envelope.get("headers", {}).get("x-shopify-topic", "orders/create")
        body = envelope["body"]
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(self.secret, raw),
        }
        while time.monotonic() < deadline:
            try:
                response = client.post("/webhooks/shopify", content=raw, headers=headers)
                answer = f"{response.status_code} {_code(response)}"
            except httpx.TransportError:
                response, answer = None, "no answer"
            with self._lock:
                self.answers[answer] += 1
                if response is not None and response.status_code == 200:
                    self.taken[f"{topic}:{body.get('id')}"] = response.json()["status"]
            if response is not None and response.status_code == 200:
                return
            time.sleep(self.pause)


def _code(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return "not JSON"
    return str(document.get("status") or document.get("error") or "")


def run_hub(
    folder: Path, env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """A ``hub`` command run to its end in ``folder`` (its ``hub.toml``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def hub_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(extra)
    return env
