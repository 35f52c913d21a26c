"""Compiled paths give exactly what the JMESPath reference interpreter gives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jmespath
import pytest
import yaml

from hub.mapping.paths import compile_path
from tests.conftest import ROOT

TRICKY = [
    "a",
    "a.b.c",
    "a[0]",
    "a[-1]",
    "a[5]",
    "a[*].b",
    "a[].b",
    "a[?b == `1`].c",
    "a[?b]",
    "a[?b > `1`]",
    "!a",
    "!(a)",
    "!`0`",
    "`0` == `false`",
    "`1` == `true`",
    "a || b",
    "a && b",
    "[a, b][?@ != null]",
    "{x: a, y: b}",
    "a[0:2]",
    "to_string(a)",
    "join('-', [a, 'z'])",
    "length(a)",
    "a.*",
    "a | [0]",
    "sum(a[].n)",
    "a[].b[]",
    "`null`",
    "@",
]
DOCUMENTS: list[Any] = [
    {"a": [{"b": 1, "c": "x"}, {"b": 2, "c": "y"}, {"b": None}], "b": 0},
    {"a": {"b": {"c": [1, 2]}}, "b": False},
    {"a": [], "b": ""},
    {"a": "text", "b": {}},
    {"a": [[{"b": 1}], {"b": 2}], "b": [0]},
    {"a": [{"n": 1.5}, {"n": 2}]},
    {"a": 0},
    {},
    [1, 2],
    None,
]


def _evaluate(evaluate, document: Any) -> tuple[str, Any]:
    try:
        return "ok", evaluate(document)
    except jmespath.exceptions.JMESPathError as error:
        return "error", type(error).__name__


@pytest.mark.parametrize("expression", TRICKY)
def test_tricky_expressions_match_the_interpreter(expression: str) -> None:
    compiled = compile_path(expression)
    for document in DOCUMENTS:
        expected = _evaluate(lambda d: jmespath.search(expression, d), document)
        assert _evaluate(compiled, document) == expected, (expression, document)


def _expressions(spec: Any) -> Iterator[str]:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("when", "message_id", "entity_key", "path", "each") and isinstance(value, str):
                yield value
            elif key in ("tables", "value", "default"):  # lookup tables and constants are not expressions
                continue
            elif isinstance(value, str) and key not in ("name", "contract"):
                yield value
            else:
                yield from _expressions(value)


def _nodes(document: Any) -> Iterator[Any]:
    yield document
    if isinstance(document, dict):
        for value in document.values():
            yield from _nodes(value)
    elif isinstance(document, list):
        for value in document:
            yield from _nodes(value)


def test_every_shipped_mapping_expression_matches_on_every_sample_node() -> None:
    checked = 0
    for folder in sorted((ROOT / "mappings").iterdir()):
        documents = [json.loads(p.read_text()) for p in (folder / "samples").glob("*.input.json")]
        for mapping in folder.glob("*.yaml"):
            for expression in _expressions(yaml.safe_load(mapping.read_text())):
                compiled = compile_path(expression)
                for document in documents:
                    for node in _nodes(document):
                        expected = _evaluate(lambda d, e=expression: jmespath.search(e, d), node)
                        assert _evaluate(compiled, node) == expected, (mapping.name, expression)
                        checked += 1
    assert checked > 10_000
