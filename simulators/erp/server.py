"""Serve the simulated ERP over HTTP on a loopback port, with transport faults on demand.

The server is a threaded ``wsgiref`` server in a background thread: real sockets, real HTTP,
real SOAP envelopes, so the adapter meets what it would meet in production — slow answers,
``500`` pages from a proxy, connections dropped halfway and garbage instead of XML.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from spyne.server.wsgi import WsgiApplication

from simulators.erp.book import ErpBook
from simulators.erp.service import FaultPlan, erp_application

__all__ = ["ErpSimulator", "LoopbackServer"]

_OPERATION = re.compile(rb"<(?:[\w-]+:)?(Get\w+|Create\w+)[\s>/]")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped connection (a fault we injected) is not worth a traceback


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return io.StringIO()  # wsgiref reports a connection we dropped on purpose as an error

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["erp.socket"] = self.connection
        return environ


class LoopbackServer:
    """Any WSGI application on a loopback port, served from a background thread."""

    def __init__(self, app: Any, port: int = 0, host: str = "127.0.0.1") -> None:
        self._server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="soap-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ErpSimulator:
    """A running legacy ERP: ``with ErpSimulator() as erp: erp.wsdl_url …``.

    ``book`` holds its data, ``faults`` arms failures, ``calls`` counts operations served.
    """

    def __init__(
        self,
        book: ErpBook | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        credentials: tuple[str, str] | None = None,
        auth: str = "basic",
    ) -> None:
        logging.getLogger("spyne").setLevel(logging.CRITICAL)  # faults are answers, not crashes
        self.book = book or ErpBook(datetime(2026, 11, 2, 8, 0, 0))
        self.faults = FaultPlan()
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._soap = WsgiApplication(erp_application(self.book, self.faults, on_call=self._count))
        self._server = LoopbackServer(self._app, port, host)
        self.credentials, self.auth = credentials, auth  # auth: basic (HTTP) or wsse (UsernameToken)
        # HTTP headers every call must carry (API tokens, as e-conomic's X-AppSecretToken).
        self.required_headers: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/erp"

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}?wsdl"

    def start(self) -> ErpSimulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ErpSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] += 1

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "POST":
            return self._soap(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        refused = self._refuse(environ, body, start_response)
        if refused is not None:
            return refused
        found = _OPERATION.search(body)
        operation = found.group(1).decode() if found else "?"
        fault = self.faults.take(("slow", "http500", "drop", "malformed", "garble"), operation)
        if fault is not None:
            if fault["kind"] == "slow":
                time.sleep(fault.get("seconds", 5))
            elif fault["kind"] == "http500":
                start_response("500 Internal Server Error", [("Content-Type", "text/html")])
                return [b"<html><body><h1>500 Internal Server Error</h1>Proxy error</body></html>"]
            elif fault["kind"] == "drop":
                connection: socket.socket = environ["erp.socket"]
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
                return []
            elif fault["kind"] == "malformed":
                start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
                return [b"<?xml version='1.0'?><soap11env:Envelope><broken"]
            elif fault["kind"] == "garble":
                return self._garbled(environ, body, start_response, fault["at"], fault["junk"])
        environ["wsgi.input"] = _Replay(body)
        return self._soap(environ, start_response)

    def _garbled(
        self, environ: dict[str, Any], body: bytes, start_response: Any, at: int, junk: bytes
    ) -> list[bytes]:
        """The real answer with ``junk`` written over it at ``at`` (modulo its length): a line
        noise, a proxy or a half-written buffer, as a client sees it."""
        environ["wsgi.input"] = _Replay(body)
        status: list[Any] = []
        answer = b"".join(self._soap(environ, lambda s, h, exc=None: status.append((s, h))))
        place = at % max(len(answer), 1)
        damaged = answer[:place] + junk + answer[place + len(junk) :]
        headers = [(k, v) for k, v in status[0][1] if k.lower() != "content-length"]
        start_response(status[0][0], [*headers, ("Content-Length", str(len(damaged)))])
        return [damaged]

    def _refuse(self, environ: dict[str, Any], body: bytes, start_response: Any) -> list[bytes] | None:
        """The ERP's gatekeeper: API-token headers, HTTP basic auth, or a WS-Security
        UsernameToken in the header."""
        for name, value in self.required_headers.items():
            if environ.get("HTTP_" + name.upper().replace("-", "_")) != value:
                start_response("401 Unauthorized", [("Content-Type", "text/plain")])
                return [f"missing or wrong {name}".encode()]
        if self.credentials is None:
            return None
        user, password = self.credentials
        if self.auth == "basic":
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if environ.get("HTTP_AUTHORIZATION") == expected:
                return None
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="ERP"')])
            return [b"Unauthorized"]
        token = re.search(rb"<(?:\w+:)?Username>([^<]*)</(?:\w+:)?Username>", body)
        secret = re.search(rb"<(?:\w+:)?Password[^>]*>([^<]*)</(?:\w+:)?Password>", body)
        if token and secret and (token.group(1), secret.group(1)) == (user.encode(), password.encode()):
            return None
        start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
        return [_AUTH_FAULT]


_AUTH_FAULT = (
    b"<?xml version='1.0' encoding='UTF-8'?><soap11env:Envelope "
    b"xmlns:soap11env='http://schemas.xmlsoap.org/soap/envelope/'><soap11env:Body><soap11env:Fault>"
    b"<faultcode>soap11env:Client.Authentication</faultcode>"
    b"<faultstring>Anmeldung fehlgeschlagen (invalid UsernameToken)</faultstring>"
    b"</soap11env:Fault></soap11env:Body></soap11env:Envelope>"
)


class _Replay:
    """The request body, readable again after the fault check consumed it."""

    def __init__(self, body: bytes) -> None:
        self._body, self._offset = body, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else self._offset + size
        chunk = self._body[self._offset : end]
        self._offset += len(chunk)
        return chunk
