"""What every request meets at the door, before any route runs: the host allow-list, the size
of the request target, and the security headers of every answer; and the rate limit of the
routes that cost the most per request (customer search).

* **Host** (``http_allowed_hosts``). DNS rebinding: a page in the user's browser makes
  ``attacker.example`` resolve to 127.0.0.1 and reads the API through it, even when the hub
  listens on loopback only. The browser still sends ``Host: attacker.example``, so a host not on
  the list is refused (400). Starlette's ``TrustedHostMiddleware`` does the check; ``/health``
  and ``/metrics`` are left out of it, because probes and scrapers address a process by its IP
  (a Kubernetes probe's Host is the pod's address) and those two carry no personal data.
* **Target size.** The only body the API takes is a webhook's (``max_body_bytes``); everything
  else travels in the path and the query, so they are bounded too: 414 beyond ``MAX_TARGET``.
* **Headers.** No answer may be sniffed as another type, framed by another site, or leak its
  address as a referrer; JSON answers allow no content at all, the documentation page only its
  own scripts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from fastapi import HTTPException, Request
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_TARGET",
    "UNCHECKED_PATHS",
    "AllowedHosts",
    "BoundedTarget",
    "PerClientLimit",
    "SecurityHeaders",
]

UNCHECKED_PATHS = frozenset({"/health", "/metrics"})
MAX_TARGET = 8192  # bytes of path and query: the longest legitimate one is a few hundred

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI starts from an inline script and styles its page inline.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


class AllowedHosts:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=list(allowed_hosts), www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path") not in UNCHECKED_PATHS:
            await self.checked(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class BoundedTarget:
    def __init__(self, app: ASGIApp, limit: int = MAX_TARGET) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if size > self.limit:
                refusal = JSONResponse(
                    {
                        "error": "uri_too_long",
                        "reason": f"path and query of {size:,} bytes exceed {self.limit:,}",
                    },
                    status_code=414,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (
            _DOCS_POLICY if scope["path"] == "/docs" or scope["path"].startswith("/docs/") else _API_POLICY
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, with_headers)


class PerClientLimit:
    """A route dependency: at most ``per_minute`` calls a minute from one client address (a
    moving window, kept in memory and forgotten when it expires), 429 with ``Retry-After``
    beyond. Behind a proxy every client shares the proxy's address: set the limit for it."""

    def __init__(self, name: str, per_minute: int) -> None:
        self.name, self.item = name, RateLimitItemPerMinute(per_minute)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def __call__(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        if not self.limiter.hit(self.item, self.name, client):
            reset = self.limiter.get_window_stats(self.item, self.name, client).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise HTTPException(
                429,
                f"more than {self.item.amount} {self.name} requests a minute; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
