"""Polling a SOAP source for changes: pages into the inbox, a durable cursor, a circuit breaker.

Paging by "changed since" with page numbers loses records when one changes while the pages are
read (everything after it shifts a place). So the cursor moves like a keyset: the next request
asks for records changed since the *last change time seen*, inclusive, from page 1; only a page
whose records all share that time moves on by page number. Records seen twice are the same
message (the inbox drops the repeat); a changed record is a new message, read again later.
A page that contradicts its request — records older than the "since" asked for, as a legacy
cache returning the previous page does — is refused and fetched again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.soap.client import SoapCallFailed, SoapClient
from adapters.soap.state import CIRCUIT, POLLING, AdapterState, lease_owner
from hub.bootstrap import Hub
from hub.intake import Receive
from hub.mapping.paths import compile_path
from hub.settings import SoapEntity, SoapSource

__all__ = ["PollReport", "SoapPoller", "next_position", "render_request"]

ENTITY_HEADER = "soap-entity"
OPERATION_HEADER = "soap-operation"


@dataclass
class PollReport:
    system: str
    entity: str
    pages: int = 0
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    retries: int = 0
    error: str | None = None
    skipped: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)


def render_request(template: Any, values: dict[str, Any]) -> Any:
    """Fill ``{since}``, ``{page}``, … into the configured request; a value that is exactly one
    placeholder keeps its type, and an argument whose placeholder is empty is left out."""
    if isinstance(template, dict):
        rendered = {key: render_request(value, values) for key, value in template.items()}
        return {key: value for key, value in rendered.items() if value is not _OMIT}
    if isinstance(template, list):
        return [item for item in (render_request(v, values) for v in template) if item is not _OMIT]
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            value = values[template[1:-1]]
            return _OMIT if value is None else value
        return template.format_map({k: "" if v is None else v for k, v in values.items()})
    return template


_OMIT = object()


def _cursor_value(entity: SoapEntity, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if entity.cursor_format:
        try:
            return datetime.strptime(str(raw).strip(), entity.cursor_format)
        except ValueError:
            return None  # the record is stored anyway; its mapping will say what is wrong
    return str(raw)


def next_position(
    entity: SoapEntity, position: dict[str, Any], records: list[dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Where the next request starts, and whether this pass through the changes is complete.

    Raises ``SoapCallFailed`` (transient) for a page that contradicts its request.
    """
    done = entity.paging == "none" or len(records) < entity.page_size
    since = position.get("since", entity.initial_cursor)
    following = dict(position)
    if entity.cursor_field:
        values = [
            (value, record.get(entity.cursor_field))
            for record in records
            if (value := _cursor_value(entity, record.get(entity.cursor_field))) is not None
        ]
        floor = _cursor_value(entity, since)
        if floor is not None and any(value < floor for value, _ in values):
            raise SoapCallFailed(
                entity.operation,
                "inconsistent page",
                f"records changed before the requested {since!r} came back (a stale or repeated page)",
                transient=True,
            )
        if values:
            top_value, top_raw = max(values, key=lambda pair: pair[0])
            if entity.paging == "bookmark":
                best = _cursor_value(entity, position.get("pass_max"))
                if best is None or top_value > best:
                    following["pass_max"] = top_raw
            elif floor is None or top_value > floor:
                following["since"], following["page"] = top_raw, 1
            elif not done:
                following["page"] = position.get("page", 1) + 1
        elif entity.paging == "page" and not done:
            following["page"] = position.get("page", 1) + 1  # nothing readable to move the cursor by
    elif entity.paging == "page":
        following["page"] = position.get("page", 1) + 1
    if entity.paging == "bookmark":
        last = records[-1].get(entity.bookmark_field or "") if records else None
        following["bookmark"] = last if last is not None else position.get("bookmark")
    if done:
        following["page"] = 1
        if entity.paging == "bookmark":
            following["bookmark"] = None
            if following.get("pass_max") is not None:
                following["since"] = following.pop("pass_max")
    return following, done


class SoapPoller:
    """One source's entities, polled in configuration order."""

    def __init__(
        self,
        hub: Hub,
        system: str,
        source: SoapSource,
        client: SoapClient | None = None,
        receive: Receive | None = None,
    ) -> None:
        self.hub, self.system, self.source = hub, system, source
        self.receive = receive or hub.receive
        self.client = client or SoapClient(system, source)
        self.state = AdapterState(hub.store)
        self.records_path = {name: compile_path(e.records) for name, e in source.entities.items()}
        self._previous: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.owner = lease_owner(self)
        # Renewed with every page; long enough for one page's every attempt.
        self.lease_seconds = 60 + source.retry_attempts * (
            source.operation_timeout_seconds + source.timeout_seconds + source.backoff_max_seconds
        )

    def poll(
        self, entities: list[str] | None = None, on_page: Callable[[PollReport], None] | None = None
    ) -> list[PollReport]:
        names = entities or list(self.source.entities)
        unknown = [n for n in names if n not in self.source.entities]
        if unknown:
            known = ", ".join(self.source.entities) or "none"
            raise ValueError(f"{self.system} has no entity {', '.join(unknown)} (configured: {known})")
        reset_after = timedelta(seconds=self.source.circuit_reset_seconds)
        if not self.state.circuit_allows(self.system, reset_after):
            opened = self.state.load(self.system, CIRCUIT).opened_at
            reason = f"circuit open since {opened}; next try after {self.source.circuit_reset_seconds:g}s"
            return [PollReport(self.system, name, skipped=reason) for name in names]
        held = self.state.lease(self.system, POLLING, self.owner, self.lease_seconds)
        if held is not None:  # two hubs polling one source would only fight over its cursors
            return [
                PollReport(self.system, name, skipped=f"another hub is polling {self.system} ({held})")
                for name in names
            ]
        try:
            reports = [self.poll_entity(name, on_page) for name in names]
        finally:
            self.state.release(self.system, POLLING, self.owner)
        failed = [r for r in reports if r.error is not None]
        if failed:  # one count per poll, however many entities it failed for
            self.state.trip(self.system, self.source.circuit_failures, failed[0].error or "")
        else:
            self.state.reset(self.system)
        return reports

    def poll_entity(self, name: str, on_page: Callable[[PollReport], None] | None = None) -> PollReport:
        entity = self.source.entities[name]
        saved = self.state.load(self.system, name).cursor
        position = saved or {"since": entity.initial_cursor, "page": 1, "bookmark": None}
        report = PollReport(self.system, name, cursor=position)

        def count_retry(_error: SoapCallFailed) -> None:
            report.retries += 1

        try:
            while True:
                records, following, done = self.client.retrying(
                    functools.partial(self._page, name, entity, position), on_retry=count_retry
                )
                self._store(name, entity, records, following, report)
                self.state.lease(self.system, POLLING, self.owner, self.lease_seconds)
                position = report.cursor = following
                if on_page is not None:
                    on_page(report)
                if done:
                    break
        except SoapCallFailed as error:
            report.error = str(error)
            self.state.failed(self.system, name, report.error)
            return report
        self.state.succeeded(self.system, name)
        return report

    def _page(
        self, name: str, entity: SoapEntity, position: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        values = {
            "since": position.get("since", entity.initial_cursor),
            "page": position.get("page", 1),
            "page_size": entity.page_size,
            "bookmark": position.get("bookmark"),
        }
        answer = self.client.call(entity.operation, render_request(entity.request, values))
        records = self.records_path[name](answer)
        if records is None:
            records = []
        if isinstance(records, dict):
            records = [records]  # a single record where the schema allows a list
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SoapCallFailed(
                entity.operation,
                "unexpected response",
                f"records path {entity.records!r} gave {type(records).__name__}, not a list of records",
                transient=False,
            )
        previous = self._previous.get(name)
        if (
            previous is not None
            and records
            and previous[1] == records
            and previous[0].get("since") == position.get("since")
            and (previous[0].get("page"), previous[0].get("bookmark"))
            != (position.get("page"), position.get("bookmark"))
        ):
            # The next page with the same records as the last: a legacy cache answering again.
            raise SoapCallFailed(
                entity.operation, "inconsistent page", "the previous page came back again", transient=True
            )
        following, done = next_position(entity, position, records)
        self._previous[name] = (position, records)
        return records, following, done

    def _store(
        self,
        name: str,
        entity: SoapEntity,
        records: list[dict[str, Any]],
        following: dict[str, Any],
        report: PollReport,
    ) -> None:
        envelopes = [
            {"headers": {ENTITY_HEADER: name, OPERATION_HEADER: entity.operation}, "body": record}
            for record in records
        ]
        outcome = self.receive(
            self.system,
            envelopes,
            lambda cursor: self.state.save_cursor(cursor, self.system, name, following, len(records)),
        )
        report.pages += 1
        report.records += len(records)
        report.stored += outcome.stored
        report.duplicates += outcome.duplicates
