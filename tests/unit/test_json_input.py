"""JSON from outside: a document, or a reason naming where it fails, whatever the bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.files import read_messages
from hub.json_input import MAX_DEPTH, UnreadableJson, read_json


@pytest.mark.parametrize(
    ("text", "code", "named"),
    [
        ("[" * 100_000 + "]" * 100_000, "too_deep", f"deeper than {MAX_DEPTH}"),
        ('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "too_deep", "$.a.a.a"),
        ('{"id": ' + "9" * 5000 + "}", "number_too_long", "5000 digits"),
        ('{"id": -1e400}', "number_too_long", "-1e400"),
        ('{"id": Infinity}', "malformed_json", "Infinity"),
        ('{"name": {"first": "\\ud800x"}}', "invalid_unicode", "$.name.first"),
        ('{"\\udfff": 1}', "invalid_unicode", "(a key)"),
        ('{"id": 1,', "malformed_json", "line 1 column 10"),
    ],
)
def test_what_no_sender_means_is_refused_naming_the_place(text: str, code: str, named: str) -> None:
    with pytest.raises(UnreadableJson) as refused:
        read_json(text.encode())
    assert refused.value.code == code and named in str(refused.value)


def test_a_document_at_the_limits_is_read() -> None:
    deep = '{"a": ' * MAX_DEPTH + '"\\ud83d\\ude00"' + "}" * MAX_DEPTH  # a paired surrogate: one emoji
    value = read_json(deep)
    for _ in range(MAX_DEPTH):
        value = value["a"]
    assert value == "😀"
    assert read_json(b'{"id": ' + b"9" * 100 + b', "x": 1.5e300}') == {"id": int("9" * 100), "x": 1.5e300}


@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_give_a_document_or_a_reason(data: bytes) -> None:
    try:
        document = read_json(data)
    except UnreadableJson as error:
        assert str(error) and error.code
    else:
        json.dumps(document, ensure_ascii=False).encode("utf-8")  # storable as it is


def test_a_file_line_that_is_no_document_becomes_a_dead_letter_with_the_reason(tmp_path: Path) -> None:
    feed = tmp_path / "orders.jsonl"
    feed.write_text(
        "\n".join(
            [
                json.dumps({"id": 1}),
                "[" * 5000 + "]" * 5000,
                '{"id": ' + "7" * 300 + "}",
                '{"id": 2, "name": "\\ud800"}',
                json.dumps({"id": 3}),
            ]
        ),
        encoding="utf-8",
    )
    lines = list(read_messages(feed))
    assert [line.error is None for line in lines] == [True, False, False, False, True]
    assert "nested deeper" in lines[1].error and ":2:" in lines[1].error
    assert "300 digits" in lines[2].error and "surrogate" in lines[3].error
    assert lines[3].as_failure("shopify").reason == lines[3].error
