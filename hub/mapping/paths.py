"""Compiled JMESPath expressions, with a fast path for plain dotted field names.

Most mapping paths are plain names (``currency``, ``customer.id``); walking dicts for those is
an order of magnitude cheaper than the JMESPath interpreter, and gives the same result (missing
keys and non-objects yield ``None``). Everything else goes through one shared interpreter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath import visitor

__all__ = ["compile_path"]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_INTERPRETER = visitor.TreeInterpreter()

Path = Callable[[Any], Any]


def compile_path(expression: str) -> Path:
    """A function evaluating ``expression`` on a document; raises JMESPath's errors when invalid."""
    parsed = jmespath.compile(expression)
    if _PLAIN.fullmatch(expression):
        keys = tuple(expression.split("."))
        if len(keys) == 1:
            key = keys[0]
            return lambda document: document.get(key) if isinstance(document, dict) else None

        def walk(document: Any) -> Any:
            for key in keys:
                if not isinstance(document, dict):
                    return None
                document = document.get(key)
            return document

        return walk
    tree = parsed.parsed
    return lambda document: _INTERPRETER.visit(tree, document)
