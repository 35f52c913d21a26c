"""JSON that arrives from outside (a webhook body, a line of a file): a document, or a reason the
sender can act on, never an exception from deep inside the parser.

Python's parser accepts what no sender means and what the hub cannot store: ``NaN`` and
``Infinity``, numbers of thousands of digits (which then fail far away, with Python's own digit
limit), nesting deep enough to exhaust the interpreter's stack, and escaped lone UTF-16
surrogates (``"\\ud800"``), which become text no database can encode. Each is refused here, naming
where in the document it is.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "UnreadableJson", "read_json"]

MAX_DEPTH = 64  # a shop's order nests about 6 levels; deeper is a broken or hostile sender
MAX_DIGITS = 100  # an id of 20 digits is long; a number of 100 digits is no business figure


class UnreadableJson(ValueError):
    """Why a document cannot be taken; ``code`` sorts the reasons for metrics and answers."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


def read_json(data: bytes | str) -> Any:
    """The document in ``data``; raises ``UnreadableJson`` with the reason and its place."""
    try:
        document = json.loads(data, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except UnicodeDecodeError as error:
        raise UnreadableJson(f"not UTF-8: {error}", "malformed_json") from None
    except json.JSONDecodeError as error:
        raise UnreadableJson(f"invalid JSON: {error}", "malformed_json") from None
    except RecursionError:
        raise UnreadableJson(f"nested deeper than {MAX_DEPTH} levels", "too_deep") from None
    except UnreadableJson:
        raise
    _inspect(document, data)
    return document


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise UnreadableJson(
            f"a number of {len(text.lstrip('-'))} digits ({text[:20]}…); at most {MAX_DIGITS} are read",
            "number_too_long",
        )
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_DIGITS + 10:
        raise UnreadableJson(
            f"a number written with {len(text)} characters ({text[:20]}…)", "number_too_long"
        )
    value = float(text)
    if not math.isfinite(value):
        raise UnreadableJson(f"the number {text} is too large to represent", "number_too_long")
    return value


def _constant(name: str) -> Any:
    raise UnreadableJson(f"{name} is not a JSON value", "malformed_json")


def _inspect(document: Any, data: bytes | str) -> None:
    """Depth and lone surrogates, checked by walking the document only when the text could hold
    them (more opening brackets than the depth limit; an escaped surrogate): most documents
    cost two scans of their text in C, not a walk in Python."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = raw.count(b"{") + raw.count(b"[")
    surrogates = b"\\ud" in raw.lower()
    if brackets <= MAX_DEPTH and not surrogates:
        return
    stack: list[tuple[Any, str, int]] = [(document, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnreadableJson(f"nested deeper than {MAX_DEPTH} levels at {path}", "too_deep")
        if isinstance(value, str):
            _whole_characters(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _whole_characters(key, f"{path} (a key)")
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def _whole_characters(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        lone = text[error.start]
        raise UnreadableJson(
            f"{path}: an unpaired UTF-16 surrogate (\\u{ord(lone):04x}) at character {error.start}, "
            "which is no character: the sender escaped half of one",
            "invalid_unicode",
        ) from None
