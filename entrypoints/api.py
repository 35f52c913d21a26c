"""The HTTP API: order tracking, planning, dead letters, projections, health and Prometheus metrics.

Adapters contribute their own routers (webhook receivers); the app factory mounts them, so the
API has no knowledge of any transport.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from aggregates import STAGES
from entrypoints.api_docs import serve_docs
from entrypoints.http_guards import AllowedHosts, BoundedTarget, PerClientLimit, SecurityHeaders
from hub.audit.history import EntityNotFound, parse_instant
from hub.bootstrap import Hub
from hub.health import process_health
from hub.identity.customers import SearchTooLong, UnknownCustomerId
from hub.order_tracking import AmbiguousOrderRef
from hub.planning.queries import COLOURS, UnknownItem

__all__ = ["create_app", "create_process_app"]

log = logging.getLogger(__name__)

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def _database_unavailable(app: FastAPI, hub: Hub) -> None:
    """A database that fails (a server restarting, a full disk) is a 503 the caller can retry,
    with one log line - not a 500 with a traceback, and never the driver's text in the answer."""

    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        log.warning("%s %s answered 503: the database failed: %s", request.method, request.url.path, error)
        hub.metrics.database_failed("http")
        return JSONResponse(
            {"error": "database_unavailable", "reason": "the hub's database is unavailable; try again later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(PersistenceError, unavailable)


def _processes(hub: Hub) -> list[dict[str, Any]]:
    return [p.to_json() for p in process_health(hub.store, hub.settings.streaming.stall_after_seconds)]


def create_process_app(hub: Hub, health: Callable[[], dict[str, Any]]) -> FastAPI:
    """``/metrics`` and ``/health`` of a background process (projection runner, relay)."""
    app = FastAPI(title="Integration hub process", version="0.1.0")
    _database_unavailable(app, hub)

    @app.get("/health")
    async def check() -> Any:
        report = await run_in_threadpool(health)
        return JSONResponse(report, status_code=503 if report.get("status") in _UNHEALTHY else 200)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(hub.metrics.render(), media_type=_PROMETHEUS)

    return app


_UNHEALTHY = ("stalled", "down", "degraded")


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as error:
        raise HTTPException(422, f"as_of: {error}") from None


async def _entity(find: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(find)
    except EntityNotFound as error:
        raise HTTPException(404, str(error)) from None


def _known_filters_only(request: Request) -> None:
    """A read with a filter its route does not know is a mistake to report: answering it with
    everything (or nothing) would pass for a real answer. Webhooks (POST) are never refused here.
    No parameter may hold a NUL character: no name, reference or time does, and PostgreSQL
    refuses it in text (a 503 "database failed" for what is a wrong request)."""
    for where, values in (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
    ):
        for name, value in values:
            if "\x00" in str(value):
                raise HTTPException(422, f"{where} parameter {name} holds a NUL character")
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if request.method != "GET" or dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise HTTPException(422, f"unknown query parameter(s) {', '.join(unknown)}; the route takes: {takes}")


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route (and its dependencies) declares."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def _one_of(name: str, value: str | None, allowed: Iterable[str]) -> None:
    if value is not None and value not in allowed:
        raise HTTPException(422, f"{name} {value!r}: one of {', '.join(allowed)}")


_LETTER_STATUSES = ("open", "resolved", "all")


def create_app(
    hub: Hub,
    routers: Iterable[APIRouter] = (),
    adapter_health: Iterable[Callable[[], list[dict[str, Any]]]] = (),
) -> FastAPI:
    """The API; adapters contribute routers and health reports (the API knows no transport)."""
    reporters = list(adapter_health)
    app = FastAPI(
        title="Integration hub",
        version="0.1.0",
        dependencies=[Depends(_known_filters_only)],
        docs_url=None,  # served from the hub, not a CDN: serve_docs
        redoc_url=None,
    )
    # the last added runs first: the target's size, the host, then the routes
    app.add_middleware(AllowedHosts, allowed_hosts=hub.settings.http_allowed_hosts)
    app.add_middleware(BoundedTarget)
    # outside even Starlette's server-error handler, so an unexpected 500 carries them too
    stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(stack())  # type: ignore[method-assign]
    serve_docs(app)
    _database_unavailable(app, hub)
    for router in routers:
        app.include_router(router)

    @app.get("/orders")
    async def list_orders(stage: str | None = None, limit: int = Query(500, ge=1, le=10_000)) -> Any:
        _one_of("stage", stage, STAGES)
        return await run_in_threadpool(hub.orders.list, stage, limit)

    @app.get("/orders/{ref}")
    async def show_order(ref: str, system: str | None = None, as_of: str | None = None) -> Any:
        moment = _instant(as_of)

        def find() -> dict[str, Any] | None:
            if moment is None:
                return hub.orders.show(ref, system)
            order_id = hub.orders.order_id(ref, system)
            return None if order_id is None else hub.history.as_of(order_id, moment)

        try:
            order = await run_in_threadpool(find)
        except AmbiguousOrderRef as error:
            raise HTTPException(409, str(error)) from None
        if order is None:
            raise HTTPException(
                404, f"no order with reference or alias {ref!r}" + (f" at {as_of}" if as_of else "")
            )
        return order

    @app.get(
        "/customers", dependencies=[Depends(PerClientLimit("search", hub.settings.http_searches_per_minute))]
    )
    async def search_customers(q: str, limit: int = Query(20, ge=1, le=500)) -> Any:
        try:
            return await run_in_threadpool(hub.customers.search, q, limit)
        except SearchTooLong as error:
            raise HTTPException(422, str(error)) from None

    @app.get("/customers/{customer}")
    async def show_customer_view(customer: str, as_of: str | None = None) -> Any:
        moment = _instant(as_of)
        try:
            return await run_in_threadpool(
                lambda: hub.customers.show(hub.customers.resolve(customer), as_of=moment)
            )
        except UnknownCustomerId as error:
            raise HTTPException(404, str(error)) from None

    @app.get("/customers/{system}/{ref}")
    async def show_customer(system: str, ref: str, as_of: str | None = None) -> Any:
        moment = _instant(as_of) or datetime.now(UTC)

        def find() -> dict[str, Any] | None:
            return hub.history.as_of(hub.history.resolve(f"customer:{system}:{ref}"), moment)

        found = await _entity(find)
        if found is None:
            raise HTTPException(404, f"customer {system}:{ref} was not known yet at {moment.isoformat()}")
        return found

    @app.get("/audit/history")
    async def history(entity: str, system: str | None = None, raw: bool = False) -> Any:
        return await _entity(lambda: hub.history.entries(hub.history.resolve(entity, system), raw=raw))

    @app.get("/audit/lineage")
    async def lineage(entity: str, field: str, system: str | None = None) -> Any:
        return await _entity(lambda: hub.history.lineage(hub.history.resolve(entity, system), field))

    @app.get("/plan/buffers")
    async def plan_buffers(status: str | None = None) -> Any:
        _one_of("status", status, COLOURS)
        return await run_in_threadpool(hub.plan.buffers, status)

    @app.get("/plan/schedule")
    async def plan_schedule(work_centre: str | None = None) -> Any:
        return await run_in_threadpool(hub.plan.schedule, work_centre)

    @app.get("/plan/items/{sku}")
    async def plan_explain(sku: str, as_of: str | None = None) -> Any:
        moment = _instant(as_of)
        try:
            return await run_in_threadpool(hub.plan.explain, sku, moment)
        except UnknownItem as error:
            raise HTTPException(404, str(error)) from None

    @app.get("/deadletters")
    async def dead_letters(status: str = "open") -> Any:
        _one_of("status", status, _LETTER_STATUSES)
        letters = await run_in_threadpool(hub.dead_letters.list, None if status == "all" else status)
        return [letter.to_json() for letter in letters]

    @app.get("/projections")
    async def projections() -> Any:
        return await run_in_threadpool(hub.projector.status)

    @app.get("/health")
    async def health() -> Any:
        def check() -> dict[str, Any]:
            processes = _processes(hub)
            adapters = [entry for report in reporters for entry in report()]
            troubled = [p["name"] for p in [*adapters, *processes] if p["status"] in _UNHEALTHY]
            return {
                "status": "degraded" if troubled else "ok",
                "troubled": troubled,
                "transport": hub.settings.transport,
                "database": hub.store.target.display,
                "inbox_backlog": hub.processor.backlog() if hub.settings.transport == "inbox" else None,
                "projections": hub.projector.status(),
                "adapters": adapters,
                "processes": processes,
                "dead_letters_open": hub.dead_letters.count(),
            }

        return await run_in_threadpool(check)

    @app.get("/metrics")
    async def metrics() -> Response:
        def render() -> bytes:
            hub.projector.observe_lag()
            if hub.settings.transport == "inbox":
                hub.metrics.inbox_backlog.set(hub.processor.backlog())
            for stage, count in hub.orders.stage_counts().items():
                hub.metrics.orders_per_stage.labels(stage).set(count)
            return hub.metrics.render()

        body = await run_in_threadpool(render)
        return Response(body, media_type=_PROMETHEUS)

    return app
