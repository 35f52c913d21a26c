"""Only the host names the operator allows are served (``http_allowed_hosts``).

DNS rebinding: a page in the user's browser makes ``attacker.example`` resolve to 127.0.0.1 and
reads the API through it, even when the hub listens on loopback only. The browser still sends
``Host: attacker.example``, so a request for a host not on the list is refused (400) before any
route runs. Starlette's ``TrustedHostMiddleware`` does the check; ``/health`` and ``/metrics``
are left out of it, because probes and scrapers address a process by its IP (a Kubernetes
probe's Host is the pod's address) and those two carry no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["UNCHECKED_PATHS", "AllowedHosts"]

UNCHECKED_PATHS = frozenset({"/health", "/metrics"})


class AllowedHosts:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=list(allowed_hosts), www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path") not in UNCHECKED_PATHS:
            await self.checked(scope, receive, send)
        else:
            await self.app(scope, receive, send)
