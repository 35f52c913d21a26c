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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.soap.client import SoapCallFailed, SoapClient, render_request
from adapters.soap.settings import SoapEntity, SoapSource
from adapters.soap.state import CIRCUIT, POLLING, AdapterState, lease_owner
from hub.mapping.paths import compile_path
from hub.ports import AdapterPorts, Receive

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


def _cursor_value(entity: SoapEntity, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if entity.cursor_format:
        try:
            return datetime.strptime(str(raw).strip(), entity.cursor_format)
        except ValueError:
            return None  # the record is stored anyway; its mapping will say what is wrong
    return str(raw)


def _newest(entity: SoapEntity, since: Any, records: list[dict[str, Any]]) -> tuple[Any, Any] | None:
    """The newest change time among the records (parsed, raw), or None when none has one.

    Raises ``SoapCallFailed`` (transient) for records older than the ``since`` asked for: a page
    that contradicts its request (a stale or repeated page)."""
    values = [
        (value, record.get(entity.cursor_field or ""))
        for record in records
        if (value := _cursor_value(entity, record.get(entity.cursor_field or ""))) is not None
    ]
    floor = _cursor_value(entity, since)
    if floor is not None and any(value < floor for value, _ in values):
        raise SoapCallFailed(
            entity.operation,
            "inconsistent page",
            f"records changed before the requested {since!r} came back (a stale or repeated page)",
            transient=True,
        )
    return max(values, key=lambda pair: pair[0]) if values else None


def next_position(
    entity: SoapEntity, position: dict[str, Any], records: list[dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Where the next request starts, and whether this pass through the changes is complete
    (paging by page number, bookmark or none).

    Raises ``SoapCallFailed`` (transient) for a page that contradicts its request.
    """
    done = entity.paging == "none" or len(records) < entity.page_size
    since = position.get("since", entity.initial_cursor)
    following = dict(position)
    if entity.cursor_field:
        newest = _newest(entity, _asked_since(entity, position), records)
        floor = _cursor_value(entity, since)
        if newest is not None:
            top_value, top_raw = newest
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


def _earlier(entity: SoapEntity, since: Any, seconds: float) -> Any:
    """A cursor value moved back by ``seconds``, written as it was (the cursor format, or ISO
    8601 with its ``Z``); a value that is no time is left as it is."""
    if not seconds or since in (None, ""):
        return since
    text = str(since).strip()
    try:
        if entity.cursor_format:
            moved = datetime.strptime(text, entity.cursor_format) - timedelta(seconds=seconds)
            return moved.strftime(entity.cursor_format)
        moved = datetime.fromisoformat(text.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    except ValueError:
        return since
    written = moved.isoformat()
    return written.replace("+00:00", "Z") if text.endswith("Z") else written


def _asked_since(entity: SoapEntity, position: dict[str, Any]) -> Any:
    """The "since" a request asks for: the cursor less the overlap margin."""
    return _earlier(entity, position.get("since", entity.initial_cursor), entity.overlap())


def request_values(entity: SoapEntity, position: dict[str, Any]) -> dict[str, Any]:
    return {
        "since": _asked_since(entity, position),
        "page": position.get("page", 1),
        "page_size": entity.page_size,
        "bookmark": position.get("bookmark"),
        "now": datetime.now(UTC).isoformat(),
    }


def records_at(operation: str, path: str, answer: Any) -> list[dict[str, Any]]:
    """The records ``path`` selects from an answer. An empty list comes back from zeep as nothing
    at all, so nothing is no records - unless the path starts at a key the answer does not have:
    a misspelt path would otherwise read "0 records" forever and move the cursor past them."""
    records = compile_path(path)(answer)
    if records is None:
        root = _ROOT_KEY.match(path)
        if root and answer is not None and not (isinstance(answer, dict) and root.group() in answer):
            has = ", ".join(map(str, answer)) if isinstance(answer, dict) else f"a {type(answer).__name__}"
            raise SoapCallFailed(
                operation,
                "records path matches nothing",
                f"records path {path!r}: the answer has no {root.group()!r} (it is {has or 'empty'})",
                transient=False,
            )
        return []
    if isinstance(records, dict):
        return [records]  # a single record where the schema allows a list
    if isinstance(records, list):
        records = [r for r in records if r is not None]  # nil entries: records deleted meanwhile
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SoapCallFailed(
            operation,
            "unexpected response",
            f"records path {path!r} gave {type(records).__name__}, not a list of records",
            transient=False,
        )
    return records


_ROOT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a path's first key; '@' or '[...]' have none


class SoapPoller:
    """One source's entities, polled in configuration order."""

    def __init__(
        self,
        ports: AdapterPorts,
        system: str,
        source: SoapSource,
        client: SoapClient | None = None,
        receive: Receive | None = None,
    ) -> None:
        self.ports, self.system, self.source = ports, system, source
        self.receive = receive or ports.receive
        self.client = client or SoapClient(system, source)
        self.state = AdapterState(ports.store)
        self.records_path = {name: compile_path(e.records) for name, e in source.entities.items()}
        self._previous: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        # Inside one pass of a two-step read: the next locator, or the ids still to fetch.
        self._pending: dict[str, Any] = {}
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
        self._pending.pop(name, None)  # a locator of an earlier, failed poll may have expired
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
        if entity.paging == "locator":
            return self._locator_batch(name, entity, position)
        if entity.paging == "changes":
            return self._changed_batch(name, entity, position)
        answer = self.client.call(
            entity.operation, render_request(entity.request, request_values(entity, position))
        )
        records = records_at(entity.operation, entity.records, answer)
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

    def _locator_batch(
        self, name: str, entity: SoapEntity, position: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        """``query`` then ``queryMore`` with the locator each answer names. The query must order
        by the cursor field and ask for it with ``>=``: the durable cursor moves to the newest
        change time of every stored batch, so a restart repeats at most records already stored."""
        more = entity.more
        assert more is not None  # settings validation
        locator = self._pending.get(name)
        if locator is None:
            operation, request = (
                entity.operation,
                render_request(entity.request, request_values(entity, position)),
            )
        else:
            operation, request = more.operation, render_request(more.request, {"locator": locator})
        answer = self.client.call(operation, request)
        records = records_at(operation, more.records if locator else entity.records, answer)
        done = bool(compile_path(entity.finished)(answer))
        following = dict(position)
        newest = _newest(entity, _asked_since(entity, position), records)
        floor = _cursor_value(entity, position.get("since", entity.initial_cursor))
        if newest is not None and (floor is None or newest[0] > floor):  # never back into the overlap
            following["since"] = newest[1]
        if done:
            self._pending.pop(name, None)
        else:
            self._pending[name] = compile_path(entity.locator)(answer)
        return records, following, done

    def _changed_batch(
        self, name: str, entity: SoapEntity, position: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        """``getUpdated`` lists the ids changed in a window, ``retrieve`` reads them in batches.
        The durable cursor moves to the end of the window only once every id was stored: a
        restart lists the same window again (records already stored are duplicates)."""
        more = entity.more
        assert more is not None  # settings validation
        pending = self._pending.get(name)
        if pending is None:
            now = datetime.now(UTC)
            since = position.get("since") or entity.initial_cursor
            if not since:  # settings validation: lookback_days is set when initial_cursor is not
                since = (now - timedelta(days=entity.lookback_days or 0)).isoformat()
            asked = _earlier(entity, since, entity.overlap())
            values = request_values(entity, position) | {"since": asked, "now": now.isoformat()}
            answer = self.client.call(entity.operation, render_request(entity.request, values))
            ids = self.records_path[name](answer) or []
            ids = [ids] if isinstance(ids, str) else list(ids)
            pending = {"ids": ids, "covered": compile_path(entity.covered)(answer) or values["now"]}
            self._pending[name] = pending
        batch = pending["ids"][: more.batch_size]
        records: list[dict[str, Any]] = []
        if batch:
            answer = self.client.call(more.operation, render_request(more.request, {"ids": batch}))
            found = records_at(more.operation, more.records, answer)
            records = [r for r in found if any(v not in (None, "", []) for v in r.values())]  # deleted since
        pending["ids"] = pending["ids"][len(batch) :]
        done = not pending["ids"]
        following = dict(position)
        if done:
            following["since"] = pending["covered"]
            self._pending.pop(name, None)
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
