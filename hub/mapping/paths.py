"""Compiled JMESPath expressions: the parsed tree turned into nested Python closures.

The reference interpreter dispatches on every node of every evaluation; mapping a busy feed
evaluates the same few dozen expressions millions of times, so each is compiled once into
closures with the interpreter's exact semantics (missing keys and non-objects yield ``None``,
JMESPath truthiness, numbers-only ordering, the library's own function table). Node types not
compiled here fall back to the reference interpreter for that subtree.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath import visitor

__all__ = ["compile_path"]

Path = Callable[[Any], Any]

_INTERPRETER = visitor.TreeInterpreter()
_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}


def compile_path(expression: str) -> Path:
    """A function evaluating ``expression``; raises JMESPath's errors when it is invalid."""
    return _compile(jmespath.compile(expression).parsed)


def _to_string(argument: Path, functions: Any) -> Path:
    """``to_string`` of a text or a whole number without the library's JSON encoder (the ids of
    every message pass here); anything else as the library answers it."""

    def to_string(value: Any) -> Any:
        found = argument(value)
        kind = type(found)
        if kind is str:
            return found
        if kind is int:
            return str(found)
        return functions.call_function("to_string", [found])

    return to_string


def _is_false(value: Any) -> bool:
    return value == "" or value == [] or value == {} or value is None or value is False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equals(x: Any, y: Any) -> bool:
    if (_is_number(x) and x in (0, 1) and isinstance(y, bool)) or (
        _is_number(y) and y in (0, 1) and isinstance(x, bool)
    ):
        return False
    return x == y


def _compile(node: dict[str, Any]) -> Path:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        key = node["value"]
        return lambda value: value.get(key) if isinstance(value, dict) else None
    if kind in ("current", "identity"):
        return lambda value: value
    if kind == "literal":
        literal = node["value"]
        return lambda value: literal
    if kind in ("subexpression", "pipe", "index_expression"):  # a[0][2] is one node of 3 steps
        steps = [_compile(child) for child in children]

        def chain(value: Any) -> Any:
            for step in steps:
                value = step(value)
            return value

        return chain
    if kind == "index":
        position = node["value"]

        def index(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            try:
                return value[position]
            except IndexError:
                return None

        return index
    if kind == "or_expression":
        left, right = (_compile(child) for child in children)

        def either(value: Any) -> Any:
            result = left(value)
            return right(value) if _is_false(result) else result

        return either
    if kind == "and_expression":
        left, right = (_compile(child) for child in children)

        def both(value: Any) -> Any:
            result = left(value)
            return result if _is_false(result) else right(value)

        return both
    if kind == "not_expression":
        inner = _compile(children[0])

        def negate(value: Any) -> Any:
            result = inner(value)
            if _is_number(result) and result == 0:
                return False
            return not result

        return negate
    if kind == "comparator":
        left, right = (_compile(child) for child in children)
        name = node["value"]
        if name == "eq":
            return lambda value: _equals(left(value), right(value))
        if name == "ne":
            return lambda value: not _equals(left(value), right(value))
        ordering = _ORDERING[name]

        def compare(value: Any) -> Any:
            a, b = left(value), right(value)
            if not (_is_number(a) and _is_number(b)):
                return None
            return ordering(a, b)

        return compare
    if kind == "function_expression":
        arguments = [_compile(child) for child in children]
        name = node["value"]
        functions = _INTERPRETER._functions  # the library's own table, with its type checks
        if name == "to_string" and len(arguments) == 1:
            return _to_string(arguments[0], functions)
        return lambda value: functions.call_function(name, [arg(value) for arg in arguments])
    if kind == "multi_select_list":
        items = [_compile(child) for child in children]
        return lambda value: None if value is None else [item(value) for item in items]
    if kind == "multi_select_dict":
        pairs = [(child["value"], _compile(child["children"][0])) for child in children]
        return lambda value: None if value is None else {key: get(value) for key, get in pairs}
    if kind == "projection":
        base, each = (_compile(child) for child in children)

        def project(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            return [r for r in (each(item) for item in items) if r is not None]

        return project
    if kind == "filter_projection":
        base, each, condition = (_compile(child) for child in children)

        def filtered(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            kept = (each(item) for item in items if not _is_false(condition(item)))
            return [r for r in kept if r is not None]

        return filtered
    if kind == "flatten":
        base = _compile(children[0])

        def flatten(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            merged: list[Any] = []
            for item in items:
                if isinstance(item, list):
                    merged.extend(item)
                else:
                    merged.append(item)
            return merged

        return flatten
    return lambda value: _INTERPRETER.visit(node, value)
