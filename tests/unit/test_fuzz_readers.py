"""Any input to a reader gives a value or an error that says where and why - never a crash.

Fuzzed (hypothesis) from the real partner files and from nothing: every mapping transform, the
EDI tokenizer and its documents, the file readers (JSON Lines, JSON, CSV, EDI), and SOAP answers
against a records path. ``python -m tests.fuzz --minutes N`` runs the same properties for long.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.edi.documents import documents
from adapters.edi.syntax import EdiError, parse_interchanges
from adapters.files import FileError, read_messages
from adapters.soap.client import SoapCallFailed
from adapters.soap.poller import records_at
from hub.mapping.transforms import TRANSFORMS, SourceContext, TransformError
from tests.conftest import FIXTURES

EDI_FILES = sorted((FIXTURES / "edi").glob("*.edi"))
CONTEXT = SourceContext(timezone="Europe/Berlin", phone_region="DE")
ARGUMENTS: dict[str, list[str | None]] = {
    "before": [None, ":", "-"],
    "after": [None, ":", "/"],
    "decimal": [None, "comma"],
    "datetime": [None, "%d.%m.%Y %H:%M", "%Y"],
    "date": [None, "%d.%m.%Y"],
    "partial_date": [None, "%d.%m.%Y"],
    "phone": [None, "DE", "XX"],
    "lookup": [None, "codes", "missing"],
}
TABLES = {"codes": {"D": "DE", "A": "AT"}}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["1.234,56", "1E+30", "2026-02-30", "31.12.2025 23:30", "+49 221 1234", "00", "D"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(TRANSFORMS)), value=values, pick=st.integers(0, 2))
def test_every_transform_gives_a_value_or_names_what_it_cannot_read(name: str, value: Any, pick: int) -> None:
    choices = ARGUMENTS.get(name, [None])
    try:
        TRANSFORMS[name](value, choices[pick % len(choices)], CONTEXT, TABLES)
    except TransformError as error:
        assert str(error)


def _mutated(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for kind, place, junk in edits:
        at = place % (len(data) + 1)
        if kind == 0:
            data = data[:at] + data[at + 1 :]  # a byte deleted
        elif kind == 1:
            data = data[:at] + junk + data[at:]  # bytes inserted
        elif kind == 2 and at < len(data):
            data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]  # a byte flipped
        else:
            data = data[:at]  # truncated
    return data


edits = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.binary(min_size=1, max_size=4)), max_size=4
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=st.sampled_from(EDI_FILES), changes=edits)
def test_a_damaged_edi_file_is_read_or_refused_naming_the_place(file: Path, changes: list) -> None:
    data = _mutated(file.read_bytes(), changes)
    try:
        messages = parse_interchanges(data, file.name)
        for message in messages:
            documents(message)
    except EdiError as error:
        assert str(error).startswith(file.name) and error.reason


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_as_edi_are_read_or_refused(data: bytes) -> None:
    try:
        for message in parse_interchanges(data, "junk.edi"):
            documents(message)
    except EdiError as error:
        assert error.reason


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.sampled_from([".jsonl", ".json", ".csv", ".edi"]),
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.text(max_size=30), max_size=6).map(
            lambda rows: "\n".join(rows).encode("utf-8", "surrogatepass")
        ),
    ),
)
def test_any_file_is_read_line_by_line_or_refused_as_a_whole(
    tmp_path: Path, suffix: str, data: bytes
) -> None:
    path = tmp_path / f"drop{suffix}"
    path.write_bytes(data)
    try:
        lines = list(read_messages(path))
    except FileError as error:
        assert path.name in str(error)
        return
    for line in lines:
        # a message, or the reason this one line could not be one (it becomes a dead letter)
        assert (line.envelope is None) == (line.error is not None)
        assert line.as_failure("wms").reason


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(["@", "records", "Items.Item", "result.records", "ids"]),
    answer=values,
)
def test_any_soap_answer_gives_records_or_a_named_error(path: str, answer: Any) -> None:
    try:
        records = records_at("GetThings", path, answer)
    except SoapCallFailed as error:
        assert "GetThings" in str(error)
        return
    assert isinstance(records, list)


def test_a_csv_export_that_is_not_utf8_is_refused_before_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_bytes("sku,location\nCAP-OLV,Köln\n".encode("cp1252"))
    try:
        list(read_messages(path))
    except FileError as error:
        assert "line 2, byte 22: not UTF-8" in str(error) and "save the file as UTF-8" in str(error)
    else:
        raise AssertionError("a Windows-1252 file was read as UTF-8")
