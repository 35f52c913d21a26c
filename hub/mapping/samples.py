"""Sample checks: each mapping folder proves itself with inputs and expected canonical outputs.

``samples/NAME.input.json`` holds a message envelope (``{"headers": …, "body": …}``) or a bare body;
``samples/NAME.expected.json`` holds ``{"mapping": "name@version", "contract": "…", "record": {…}}``
for a message that must map, or ``{"error": "text the error must contain"}`` for one that must not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.mapping.engine import MappingError, MappingSet, model_to_jsonable
from hub.mapping.transforms import SourceContext

__all__ = ["SampleResult", "as_envelope", "check_samples"]


@dataclass(frozen=True)
class SampleResult:
    system: str
    sample: str
    ok: bool
    detail: str


def as_envelope(document: Any) -> dict[str, Any]:
    """A captured envelope stays as it is; anything else is a bare message body."""
    if isinstance(document, dict) and "body" in document:
        headers = {str(k).lower(): v for k, v in (document.get("headers") or {}).items()}
        return {**document, "headers": headers}
    return {"headers": {}, "body": document}


def check_samples(system: str, folder: Path, context: SourceContext) -> Iterator[SampleResult]:
    """``samples/context.json`` (optional) names the time zone and phone region the samples were
    written in, for sources whose local times and numbers only mean something in their zone."""
    mappings = MappingSet.load(system, folder)
    written_in = folder / "samples" / "context.json"
    if written_in.exists():
        declared = json.loads(written_in.read_text(encoding="utf-8"))
        context = SourceContext(
            declared.get("timezone", context.timezone), declared.get("phone_region", context.phone_region)
        )
    inputs = sorted((folder / "samples").glob("*.input.json"))
    if not inputs:
        yield SampleResult(system, "-", False, f"{folder / 'samples'}: no *.input.json samples")
        return
    for source in inputs:
        name = source.name.removesuffix(".input.json")
        expected_file = source.with_name(f"{name}.expected.json")
        if not expected_file.exists():
            yield SampleResult(system, name, False, f"{expected_file} is missing")
            continue
        envelope = as_envelope(json.loads(source.read_text(encoding="utf-8")))
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        yield _check_one(system, name, mappings, envelope, expected, context)


def _check_one(
    system: str,
    name: str,
    mappings: MappingSet,
    envelope: dict[str, Any],
    expected: dict[str, Any],
    context: SourceContext,
) -> SampleResult:
    try:
        mapping = mappings.select(envelope)
        record = model_to_jsonable(mapping.apply(envelope, context))
    except MappingError as error:
        if "error" in expected and expected["error"] in str(error):
            return SampleResult(system, name, True, f"rejected as expected: {error}")
        return SampleResult(system, name, False, f"unexpected error: {error}")
    if "error" in expected:
        return SampleResult(system, name, False, f"expected an error containing {expected['error']!r}")
    problems = []
    if expected.get("mapping") not in (None, mapping.label):
        problems.append(f"selected {mapping.label}, expected {expected['mapping']}")
    if expected.get("contract") not in (None, mapping.contract.__name__):
        problems.append(f"produced {mapping.contract.__name__}, expected {expected['contract']}")
    if record != expected.get("record"):
        problems.append(_diff(expected.get("record"), record))
    if problems:
        return SampleResult(system, name, False, "; ".join(problems))
    return SampleResult(system, name, True, f"{mapping.label} → {mapping.contract.__name__}")


def _diff(expected: Any, actual: Any, where: str = "record") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if expected.get(key) != actual.get(key):
                return _diff(expected.get(key), actual.get(key), f"{where}.{key}")
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            if e != a:
                return _diff(e, a, f"{where}[{i}]")
    return f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"
