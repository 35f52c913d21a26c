"""Sample checks: each mapping folder proves itself with inputs and expected canonical outputs.

``samples/NAME.input.json`` holds a message envelope (``{"headers": …, "body": …}``) or a bare body;
``samples/NAME.expected.json`` holds ``{"mapping": "name@version", "contract": "…", "record": {…}}``
for a message that must map, or ``{"error": "text the error must contain"}`` for one that must not.
The record is compared on the fields it names (defaults need not be spelled out) unless the
sample says ``"exact": true``; ``"notes": ["field", …]`` names the lenient fields that must have
been given up. Every difference is reported at once.
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
        translated, notes = mapping.translate(envelope, context)
        record = model_to_jsonable(translated)
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
    problems += _differences(expected.get("record"), record, "record", bool(expected.get("exact")))
    noted = sorted(note.field for note in notes)
    if "notes" in expected and sorted(expected["notes"]) != noted:
        problems.append(f"notes: expected fields {sorted(expected['notes'])}, got {noted}")
    if problems:
        return SampleResult(system, name, False, "; ".join(problems))
    return SampleResult(system, name, True, f"{mapping.label} → {mapping.contract.__name__}")


def _differences(expected: Any, actual: Any, where: str, exact: bool) -> list[str]:
    """Every place ``actual`` differs from ``expected``; unless ``exact``, only the keys named."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        keys = sorted(set(expected) | set(actual)) if exact else sorted(expected)
        found = []
        for key in keys:
            if key not in actual:
                if expected[key] is None:
                    continue  # records leave out what is empty
                found.append(f"{where}.{key}: expected {json.dumps(expected[key])}, missing")
            elif key not in expected:
                found.append(f"{where}.{key}: not expected, got {json.dumps(actual[key])}")
            else:
                found += _differences(expected[key], actual[key], f"{where}.{key}", exact)
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            problem
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for problem in _differences(e, a, f"{where}[{i}]", exact)
        ]
    if expected == actual:
        return []
    return [f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
