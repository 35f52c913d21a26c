"""The webhook endpoint: verify, record durably in the inbox, and only then acknowledge.

Every refusal is a 4xx with a reason the sender's logs will show; nothing that passed the checks
is ever lost, because the 200 is sent after the inbox transaction committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from adapters.webshop.signatures import SIGNATURE_CHECKS
from hub.inbox import RecordOutcome
from hub.json_input import UnreadableJson, read_json
from hub.ports import AdapterPorts

__all__ = ["WebhookHealth", "webhook_router", "webhook_secrets"]

# Headers worth keeping with the message: they select mappings and help support.
log = logging.getLogger(__name__)

_KEPT_PREFIXES = ("x-shopify-", "x-wc-webhook-", "x-carrier-", "content-type", "user-agent")
_SIGNATURE_HEADERS = {check.header.lower() for check in SIGNATURE_CHECKS.values()}


class WebhookHealth:
    """What ``/health`` reports of each web-shop adapter: configured, last message, last refusal."""

    def __init__(self, ports: AdapterPorts, secrets: Mapping[str, str]) -> None:
        self.ports, self.secrets = ports, secrets
        self.last_stored: dict[str, str] = {}
        self.last_refusal: dict[str, dict[str, str]] = {}

    def stored(self, system: str) -> None:
        self.last_stored[system] = datetime.now(UTC).isoformat()

    def refused(self, system: str, code: str, reason: str) -> None:
        self.last_refusal[system] = {"code": code, "reason": reason, "at": datetime.now(UTC).isoformat()}

    def report(self) -> list[dict[str, Any]]:
        found = []
        for name, config in sorted(self.ports.settings.systems.items()):
            if config.adapter not in SIGNATURE_CHECKS:
                continue
            found.append(
                {
                    "name": f"webhooks:{name}",
                    "adapter": config.adapter,
                    # Without its secret every webhook of the system is refused (503).
                    "status": "ok" if self.secrets.get(name) else "down",
                    "detail": "" if self.secrets.get(name) else f"secret {config.secret_env!r} is not set",
                    "last_stored_at": self.last_stored.get(name),
                    "last_refusal": self.last_refusal.get(name),
                }
            )
        return found


def _refuse(
    ports: AdapterPorts, system: str, status: int, reason: str, code: str, retry_after: int | None = None
) -> JSONResponse:
    ports.refused(system, code)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": code, "reason": reason}, status_code=status, headers=headers)


_PLACEHOLDERS = ("change-me", "changeme", "change_me")


def webhook_secrets(ports: AdapterPorts) -> dict[str, str]:
    """Each web-shop system's secret, read once from the environment variable it names. A
    placeholder left from a template (``change-me``) counts as unset: anyone who read the
    template could sign webhooks with it, so the system's webhooks are refused (503) until it
    is set, and the log says so."""
    secrets = {}
    for name, config in ports.settings.systems.items():
        value = os.environ.get(config.secret_env) if config.secret_env else None
        if value and value.strip().lower().startswith(_PLACEHOLDERS):
            log.error(
                "webhooks of %s are refused: %s holds a placeholder, not the shop's signing secret",
                name,
                config.secret_env,
            )
        elif value:
            secrets[name] = value
    return secrets


Intake = Callable[[str, list[dict[str, Any]]], Awaitable[RecordOutcome]]


def webhook_router(
    ports: AdapterPorts,
    secrets: Mapping[str, str],
    on_stored: Callable[[], None] | None = None,
    intake: Intake | None = None,
    health: WebhookHealth | None = None,
) -> APIRouter:
    """``POST /webhooks/{system}`` for every system whose adapter is a web shop.

    ``intake`` stores the message durably before the 200: the local inbox by default, Kafka in
    distributed mode (``RawPublisher.publish``, which returns once the broker has it).
    """
    router = APIRouter()

    async def into_inbox(system: str, envelopes: list[dict[str, Any]]) -> RecordOutcome:
        # Many requests share one inbox commit (group commit); the answer waits for it, the
        # event loop does not.
        return await asyncio.wrap_future(ports.submit(system, envelopes))

    store = intake or into_inbox

    def refuse(
        system: str, status: int, reason: str, code: str, retry_after: int | None = None
    ) -> JSONResponse:
        if health is not None:
            health.refused(system, code, reason)
        return _refuse(ports, system, status, reason, code, retry_after)

    @router.post("/webhooks/{system}")
    async def receive(system: str, request: Request) -> Any:
        config = ports.settings.systems.get(system)
        if config is None or config.adapter not in SIGNATURE_CHECKS:
            return refuse(
                system,
                404,
                f"no webhook system (shop or carrier) named {system!r} is configured",
                "unknown_system",
            )
        limit = ports.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return refuse(
                system,
                413,
                f"body of {declared} bytes exceeds the limit of {limit}",
                "too_large",
            )
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return refuse(system, 413, f"body exceeds the limit of {limit} bytes", "too_large")
        check = SIGNATURE_CHECKS[config.adapter]
        secret = secrets.get(system)
        if not secret:
            return refuse(
                system,
                503,
                f"secret for {system!r} is not set, or is a placeholder (environment variable "
                f"{config.secret_env!r})",
                "no_secret",
            )
        problem = check.verify(secret, body, request.headers.get(check.header))
        if problem:
            return refuse(system, 401, problem, "bad_signature")
        content_type = request.headers.get("content-type", "")
        if config.adapter == "woocommerce" and body.startswith(b"webhook_id="):
            # WooCommerce pings a new webhook with a form body; it must get a 200 to activate.
            return {"status": "ping acknowledged"}
        if "json" not in content_type.lower():
            return refuse(system, 415, f"content type {content_type!r} is not JSON", "wrong_content_type")
        try:
            document = read_json(body)
        except UnreadableJson as error:
            status = 400 if error.code == "malformed_json" else 422
            return refuse(system, status, f"body: {error}", error.code)
        if not isinstance(document, dict):
            return refuse(system, 422, "body must be a JSON object", "not_an_object")
        headers = {
            k.lower(): v
            for k, v in request.headers.items()
            if k.lower().startswith(_KEPT_PREFIXES) and k.lower() not in _SIGNATURE_HEADERS
        }
        try:
            outcome = await store(system, [{"headers": headers, "body": document}])
        except PersistenceError as error:
            # Not stored, so not acknowledged: the shop sends it again, as it does after any
            # answer but a 2xx. The log says why; the answer holds no server detail.
            log.warning("webhook for %s not stored, answered 503: the database failed: %s", system, error)
            return refuse(
                system,
                503,
                "the hub cannot store messages right now; send it again later",
                "database_unavailable",
                retry_after=5,
            )
        if health is not None:
            health.stored(system)
        if on_stored is not None and outcome.stored:
            on_stored()
        return {"status": "duplicate" if outcome.duplicates else "stored"}

    return router
