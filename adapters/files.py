"""File drops and backfills: JSON Lines or CSV, one message per line or row (or a ``.json``
document holding one message or an array of them).

A JSON line with a ``body`` key is a captured envelope (``{"headers", "body", "message_id",
"received_at"}``), exactly what the webhook endpoint records; any other line is a message body.
Unreadable lines are reported with file and line number and never stop the readable ones.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.edi.documents import documents
from adapters.edi.syntax import EdiError, parse_interchanges
from hub.dead_letters import Failure
from hub.json_input import UnreadableJson, read_json
from hub.mapping import as_envelope
from hub.ports import AdapterPorts, Receive

__all__ = ["FileError", "FileIntake", "FileLine", "read_messages", "take_file"]

SUPPORTED = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".edi": "edi",
    ".x12": "edi",
    ".edifact": "edi",
}


CHUNK = 2000  # messages per intake call: one inbox transaction or one Kafka round


class FileError(ValueError):
    """A file that cannot be read at all (missing, unknown type, wrong encoding)."""


@dataclass(frozen=True)
class FileLine:
    """One line/row: an envelope, or the reason it could not be read (``error``). The reason names
    the file by its name, not its path: it is kept as a dead letter and shown over HTTP, where a
    server path must not appear."""

    source: str
    line: int
    envelope: dict[str, Any] | None
    error: str | None
    raw: str
    offset: int  # bytes consumed so far, for progress bars

    def as_failure(self, system: str) -> Failure:
        """An unreadable line as a dead letter; the id is stable, so re-ingesting adds no copy."""
        digest = hashlib.sha256(self.raw.encode("utf-8", "replace")).hexdigest()[:16]
        return Failure(
            system=system,
            message_id=f"unreadable:{self.source}:{self.line}:{digest}",
            stage="parse",
            reason=self.error or "unreadable",
            envelope={"raw": self.raw, "source": f"{self.source}:{self.line}"},
        )


def read_messages(path: Path) -> Iterator[FileLine]:
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise FileError(
            f"{path}: unsupported file type {path.suffix!r}; use .jsonl/.ndjson (JSON Lines), .json, .csv "
            "or .edi/.x12/.edifact (EDI interchanges)"
        )
    if not path.is_file():
        raise FileError(f"{path}: file not found")
    readers = {"jsonl": _json_lines, "json": _json_document, "csv": _csv_rows, "edi": _edi_documents}
    yield from readers[kind](path)


def _edi_documents(path: Path) -> Iterator[FileLine]:
    """An EDI file: one message per transaction set (or per order of a ship notice).

    A file with any syntax or envelope error yields nothing but that error (one dead letter with
    the whole interchange): a partner's interchange is taken whole or not at all.
    """
    raw = path.read_bytes()
    try:
        messages = parse_interchanges(raw, path.name)
    except EdiError as error:
        yield FileLine(
            path.name, max(error.segment or 0, 1), None, str(error), raw.decode("latin-1"), len(raw)
        )
        return
    number = 0
    for message in messages:
        for document in documents(message):
            number += 1
            headers = {"edi-standard": message.standard, "edi-type": message.type}
            text = json.dumps(document, ensure_ascii=False)
            source = f"{path.name} {message.standard} {message.type} {message.control}"
            envelope = {"headers": headers, "body": document, "source": source}
            yield FileLine(path.name, number, envelope, None, text, len(raw))


def _json_document(path: Path) -> Iterator[FileLine]:
    """A ``.json`` file: one message (an object) or many (an array of objects)."""
    raw = path.read_bytes()
    try:
        document = read_json(raw)
    except UnreadableJson as error:
        if error.code == "malformed_json":  # many exports named .json are really JSON Lines
            yield from _json_lines(path)
        else:
            text = raw.decode("utf-8", "replace")
            yield FileLine(path.name, 1, None, f"{path.name}: {error}", text, len(raw))
        return
    items = document if isinstance(document, list) else [document]
    for number, item in enumerate(items, start=1):
        text = json.dumps(item, ensure_ascii=False)
        if isinstance(item, dict):
            yield FileLine(path.name, number, as_envelope(item), None, text, len(raw))
        else:
            reason = f"{path.name}: item {number}: expected a JSON object, got {type(item).__name__}"
            yield FileLine(path.name, number, None, reason, text, len(raw))


def _json_lines(path: Path) -> Iterator[FileLine]:
    offset = 0
    with path.open("rb") as handle:
        for number, raw_bytes in enumerate(handle, start=1):
            offset += len(raw_bytes)
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as error:
                text = raw_bytes.decode("utf-8", "replace")
                yield FileLine(
                    path.name, number, None, f"{path.name}:{number}: not UTF-8: {error}", text, offset
                )
                continue
            if not raw.strip():
                continue
            try:
                document = read_json(raw)
            except UnreadableJson as error:
                yield FileLine(path.name, number, None, f"{path.name}:{number}: {error}", raw, offset)
                continue
            if not isinstance(document, dict):
                reason = f"{path.name}:{number}: expected a JSON object, got {type(document).__name__}"
                yield FileLine(path.name, number, None, reason, raw, offset)
                continue
            yield FileLine(path.name, number, as_envelope(document), None, raw, offset)


def _utf8_or_refused(path: Path) -> None:
    """A CSV file is read as one table: one that is not UTF-8 throughout (a legacy export in
    Windows-1252) is refused before its first row, naming the line and byte, rather than half
    stored and then broken off."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed, lines = 0, 1
    with path.open("rb") as binary:
        while chunk := binary.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                line = lines + chunk.count(b"\n", 0, error.start)
                raise FileError(
                    f"{path}: line {line}, byte {consumed + error.start}: not UTF-8 "
                    f"({chunk[error.start : error.start + 1]!r}); save the file as UTF-8"
                ) from None
            consumed, lines = consumed + len(chunk), lines + chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileError(f"{path}: byte {consumed}: the file ends inside a UTF-8 character") from None


def _csv_rows(path: Path) -> Iterator[FileLine]:
    _utf8_or_refused(path)
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        rows = csv.DictReader(text)
        try:
            if rows.fieldnames is None:
                return
            yield from _table_rows(path, rows, binary)
        except csv.Error as error:  # a field beyond the csv module's limit, a quote never closed
            raise FileError(f"{path}:{rows.line_num}: {error}") from None


def _table_rows(path: Path, rows: csv.DictReader[str], binary: Any) -> Iterator[FileLine]:
    width = len(rows.fieldnames or ())
    for row in rows:
        number = rows.line_num
        offset = binary.tell()
        raw = json.dumps(row, ensure_ascii=False)
        if None in row or any(v is None for v in row.values()):
            reason = f"{path.name}:{number}: row does not have the header's {width} fields"
            yield FileLine(path.name, number, None, reason, raw, offset)
            continue
        body = {k: (v if v != "" else None) for k, v in row.items()}
        envelope = {"headers": {}, "body": body, "source": f"{path.name} row {number}"}
        yield FileLine(path.name, number, envelope, None, raw, offset)


@dataclass
class FileIntake:
    """What reading one file put into the intake."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)  # the reason of every unreadable line


def take_file(
    ports: AdapterPorts,
    receive: Receive,
    system: str,
    path: Path,
    on_progress: Callable[[int, int], None] | None = None,
    on_refused: Callable[[str], None] | None = None,
) -> FileIntake:
    """Stream a file's messages into the intake in chunks; unreadable lines become dead letters
    naming file and line, and the readable ones go on. ``on_progress(bytes read, messages)``."""
    taken = FileIntake()
    envelopes: list[dict[str, Any]] = []
    bad: list[FileLine] = []

    def flush() -> None:
        if envelopes:
            outcome = receive(system, envelopes)
            taken.stored += outcome.stored
            taken.duplicates += outcome.duplicates
            envelopes.clear()
        if bad:
            ports.reject([line.as_failure(system) for line in bad])
            bad.clear()

    for line in read_messages(path):
        if line.envelope is None:
            bad.append(line)
            taken.refused.append(line.error or "unreadable")
            if on_refused is not None:
                on_refused(line.error or "unreadable")
        else:
            envelopes.append(line.envelope)
            taken.messages += 1
        if len(envelopes) >= CHUNK:
            flush()
            if on_progress is not None:
                on_progress(line.offset, taken.messages)
    flush()
    if on_progress is not None:
        on_progress(path.stat().st_size, taken.messages)
    return taken
