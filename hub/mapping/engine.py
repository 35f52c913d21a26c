"""Declarative mappings: YAML files that turn a source message into a canonical contract.

A mapping file names its contract, a JMESPath condition that selects it, how to derive the
message id and the entity key, and one spec per output field. Field specs are either a JMESPath
string, ``{value: constant}``, ``{path, transforms, default, on_error}``, a nested ``{fields}``
object or a list ``{each: path, fields}``. Every failure is a ``MappingError`` naming file, field,
path and value, because the person fixing it has only the message and the mapping in front of them.

A field is strict by default: a value it cannot read makes the whole message a dead letter. A
field declared ``on_error: null`` (or ``drop``) is lenient: the record is kept with the field
empty (``null``: stated as empty; ``drop``: not stated, so an earlier value stands) and a
``FieldNote`` names the field, the raw value and the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ValidationError

from hub.contracts import CONTRACTS, CONTROL_CHARACTERS, Contract, Plausibility, text_problem
from hub.mapping.paths import compile_path
from hub.mapping.transforms import (
    LIST_TRANSFORMS,
    TRANSFORMS,
    SourceContext,
    TransformError,
    parse_transform,
)

__all__ = ["FieldNote", "Mapping", "MappingError", "MappingSet", "content_hash"]

ON_ERROR = ("fail", "null", "drop")
_DROP = object()  # a lenient field's unreadable value, left out of the record
_NULL = object()  # a lenient field's unreadable value, stated as empty
_MAX_RETRIES = 32  # lenient fields a record may lose before it counts as unreadable


class MappingError(ValueError):
    """A message a mapping cannot translate, or a mapping file that cannot be used."""

    def __init__(
        self,
        reason: str,
        *,
        file: Path | str | None = None,
        field: str | None = None,
        path: str | None = None,
        value: Any = None,
        mapping: str | None = None,
    ) -> None:
        self.reason, self.file, self.field, self.path = reason, file, field, path
        self.value, self.mapping = value, mapping
        parts = [_shown(file) if file else None]
        if field:
            parts.append(f"field {field!r}")
        if path:
            parts.append(f"path {path!r}")
        if field or path:
            parts.append(f"value {_short(value)}")
        where = ", ".join(p for p in parts if p)
        super().__init__(f"{where}: {reason}" if where else reason)


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(file: Path | str) -> str:
    """A mapping file as errors name it: its system's folder and its name. The error of a
    message is kept as a dead letter and shown over HTTP, where a server path must not appear."""
    path = Path(file)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def content_hash(envelope: MappingABC[str, Any]) -> str:
    """Message id of last resort: the same message - headers and body - always gets the same id,
    and two messages that differ in either never share one. (A hash of the body alone made the
    same body under another topic a "duplicate": answered 200 and lost.)"""
    message = {"headers": envelope.get("headers") or {}, "body": envelope.get("body")}
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _compile(expression: str, file: Path, where: str) -> Callable[[Any], Any]:
    try:
        return compile_path(expression)
    except JMESPathError as error:
        raise MappingError(f"invalid JMESPath in {where}: {error}", file=file, path=expression) from None


@dataclass(frozen=True)
class FieldNote:
    """A value a lenient field could not read: the record was kept without it."""

    field: str
    path: str | None
    value: str  # the raw value, as JSON, shortened
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "path": self.path, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class _Field:
    """One output field: where its value comes from and how it is converted."""

    name: str
    path: str | None = None
    compiled: Any = None
    constant: Any = None
    transforms: tuple[tuple[str, str | None], ...] = ()
    default: Any = None
    children: tuple[_Field, ...] | None = None
    each: bool = False
    on_error: str = "fail"


def _parse_field(name: str, spec: Any, file: Path, prefix: str = "") -> _Field:
    label = f"{prefix}{name}"
    if isinstance(spec, str):
        return _Field(name, path=spec, compiled=_compile(spec, file, f"field {label!r}"))
    if not isinstance(spec, dict):
        raise MappingError(f"field {label!r}: expected a path string or a table", file=file)
    unknown = set(spec) - {"path", "value", "transforms", "default", "fields", "each", "on_error"}
    if unknown:
        raise MappingError(f"field {label!r}: unknown keys {sorted(unknown)}", file=file)
    on_error = "null" if "on_error" in spec and spec["on_error"] is None else spec.get("on_error", "fail")
    if on_error not in ON_ERROR:
        raise MappingError(
            f"field {label!r}: on_error {on_error!r} is not one of {', '.join(ON_ERROR)}", file=file
        )
    if "value" in spec:
        return _Field(name, constant=spec["value"])
    path = spec.get("each") or spec.get("path")
    compiled = _compile(path, file, f"field {label!r}") if path else None
    children = None
    if "fields" in spec:
        children = tuple(
            _parse_field(child, child_spec, file, f"{label}.") for child, child_spec in spec["fields"].items()
        )
    try:
        transforms = tuple(parse_transform(t) for t in spec.get("transforms", []))
    except KeyError as error:
        raise MappingError(f"field {label!r}: {error.args[0]}", file=file) from None
    if path is None and children is None:
        raise MappingError(f"field {label!r}: needs 'path', 'value', 'each' or 'fields'", file=file)
    return _Field(
        name,
        path=path,
        compiled=compiled,
        transforms=transforms,
        default=spec.get("default"),
        children=children,
        each="each" in spec,
        on_error=on_error,
    )


@dataclass(frozen=True)
class _Requirement:
    """What the body must show for the mapping to apply: a source that does not sign what
    selects the mapping (Shopify's topic header) would otherwise let a captured body be replayed
    as another kind of message (an order placed, replayed as paid or cancelled)."""

    check: str
    says: str
    compiled: Callable[[Any], Any]

    def holds(self, document: Any) -> bool:
        try:
            return bool(self.compiled(document))
        except JMESPathError:
            return False

    def found(self, document: Any) -> Any:
        """What the check read, for the error: the first field it names."""
        first = re.match(r"[A-Za-z_][A-Za-z0-9_]*", self.check)
        return document.get(first.group(0)) if first and isinstance(document, dict) else None


def _parse_requirement(spec: Any, file: Path) -> _Requirement:
    if not isinstance(spec, dict) or set(spec) != {"check", "says"}:
        raise MappingError("each of 'requires' is a table with 'check' (JMESPath) and 'says'", file=file)
    check = str(spec["check"])
    return _Requirement(check, str(spec["says"]), _compile(check, file, "'requires'"))


@dataclass
class Mapping:
    """One versioned (system, message kind) → contract translation, loaded from a YAML file."""

    file: Path
    name: str
    version: int
    contract: type[Contract]
    when: Any
    message_id: Any
    entity_key: Any
    root: Any
    fields: tuple[_Field, ...]
    tables: dict[str, dict[str, Any]]
    priority: int = 0
    requires: tuple[_Requirement, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def load(cls, file: Path) -> Mapping:
        try:
            spec = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise MappingError(f"not valid YAML: {error}", file=file) from None
        if not isinstance(spec, dict):
            raise MappingError("a mapping file must be a YAML table", file=file)
        for key in ("name", "version", "contract", "when", "fields"):
            if key not in spec:
                raise MappingError(f"missing required key {key!r}", file=file)
        if spec["contract"] not in CONTRACTS:
            raise MappingError(
                f"unknown contract {spec['contract']!r}; known: {', '.join(CONTRACTS)}", file=file
            )
        optional = {k: spec.get(k) for k in ("message_id", "entity_key")}
        return cls(
            file=file,
            name=str(spec["name"]),
            version=int(spec["version"]),
            contract=CONTRACTS[spec["contract"]],
            when=_compile(spec["when"], file, "'when'"),
            message_id=_compile(optional["message_id"], file, "'message_id'")
            if optional["message_id"]
            else None,
            entity_key=_compile(optional["entity_key"], file, "'entity_key'")
            if optional["entity_key"]
            else None,
            root=_compile(spec.get("root", "body"), file, "'root'"),
            fields=tuple(_parse_field(n, s, file) for n, s in spec["fields"].items()),
            tables={str(k): {str(kk): vv for kk, vv in v.items()} for k, v in spec.get("tables", {}).items()},
            priority=int(spec.get("priority", 0)),
            requires=tuple(_parse_requirement(r, file) for r in spec.get("requires") or ()),
        )

    def matches(self, envelope: MappingABC[str, Any]) -> bool:
        return bool(self.when(envelope))

    def derive_message_id(self, envelope: MappingABC[str, Any]) -> str | None:
        if self.message_id is None:
            return None
        value = self.message_id(envelope)
        return None if value in (None, "") else str(value)

    def derive_entity_key(self, envelope: MappingABC[str, Any]) -> str | None:
        if self.entity_key is None:
            return None
        value = self.entity_key(envelope)
        return None if value in (None, "") else str(value)

    def apply(self, envelope: MappingABC[str, Any], context: SourceContext) -> Contract:
        """Translate one message; raises ``MappingError`` naming the field that failed."""
        return self.translate(envelope, context)[0]

    def translate(
        self, envelope: MappingABC[str, Any], context: SourceContext
    ) -> tuple[Contract, list[FieldNote]]:
        """The record and the notes of lenient fields that could not be read."""
        document = self.root(envelope)
        for requirement in self.requires:
            if not requirement.holds(document):
                raise MappingError(
                    f"the message is not what it was sent as: {requirement.says}",
                    file=self.file,
                    path=requirement.check,
                    value=requirement.found(document),
                    mapping=self.label,
                )
        notes: list[FieldNote] = []
        lenient: dict[tuple[Any, ...], tuple[_Field, Any]] = {}
        data = self._build(self.fields, document, context, (), None, notes, lenient)
        for _ in range(_MAX_RETRIES):
            try:
                return self.contract.model_validate(data, context=context.validation), notes
            except ValidationError as error:
                if not self._set_aside(data, error, lenient, notes):
                    self._reject(document, context, error)
        raise MappingError(
            f"more than {_MAX_RETRIES} lenient fields could not be read", file=self.file, mapping=self.label
        )

    def read_field(self, envelope: MappingABC[str, Any], name: str, context: SourceContext) -> Any:
        """One top-level output field of a message (None when absent or unreadable): what an
        unusable message was about, e.g. the order a dead-lettered placement would have placed."""
        spec = next((f for f in self.fields if f.name == name), None)
        if spec is None or spec.compiled is None or spec.children is not None:
            return None
        try:
            raw = spec.compiled(self.root(envelope))
            return self._convert(spec, raw, context, ()) if spec.transforms else raw
        except (MappingError, JMESPathError, TypeError, ValueError):
            return None

    def _set_aside(
        self,
        data: dict[str, Any],
        error: ValidationError,
        lenient: dict[tuple[Any, ...], tuple[_Field, Any]],
        notes: list[FieldNote],
    ) -> bool:
        """Empty the lenient fields the contract refuses; False when a strict field failed."""
        changed = False
        for problem in error.errors():
            loc = tuple(problem["loc"])
            found = next((loc[:n] for n in range(len(loc), 0, -1) if loc[:n] in lenient), None)
            if found is None:
                return False
            spec, raw = lenient.pop(found)
            notes.append(FieldNote(".".join(map(str, found)), spec.path, _short(raw), f"{problem['msg']}"))
            _empty(data, found, spec.on_error)
            changed = True
        return changed

    def _reject(self, document: Any, context: SourceContext, error: ValidationError) -> None:
        # Build again, recording which source path fed each field, to name it in the error.
        trace: dict[tuple[Any, ...], tuple[str | None, Any]] = {}
        self._build(self.fields, document, context, (), trace, [], {})
        first = error.errors()[0]
        loc = tuple(first["loc"])
        path, raw = _nearest_trace(trace, loc)
        raise MappingError(
            f"{self.contract.__name__} rejects it: {first['msg']}",
            file=self.file,
            field=".".join(map(str, loc)) or None,
            path=path,
            value=raw if path else first.get("input"),
            mapping=self.label,
        ) from None

    def _build(
        self,
        fields: tuple[_Field, ...],
        document: Any,
        context: SourceContext,
        loc: tuple[Any, ...],
        trace: dict[tuple[Any, ...], tuple[str | None, Any]] | None,
        notes: list[FieldNote],
        lenient: dict[tuple[Any, ...], tuple[_Field, Any]],
    ) -> dict[str, Any]:
        """The contract's input values; ``trace`` (when given) records each field's source,
        ``lenient`` each lenient field's place, and ``notes`` what lenient fields could not read."""
        out: dict[str, Any] = {}
        longest, control = context.plausibility.max_text, CONTROL_CHARACTERS.search
        for spec in fields:
            if spec.path is None and spec.children is None:
                out[spec.name] = spec.constant
                continue
            raw = spec.compiled(document) if spec.compiled is not None else document
            if trace is not None:
                trace[(*loc, spec.name)] = (spec.path, raw)
            if spec.each:
                items = raw or []
                if not isinstance(items, list):
                    raise self._error("'each' must select a list", (*loc, spec.name), spec.path, raw)
                here = (*loc, spec.name)
                out[spec.name] = [
                    self._build(spec.children, item, context, (*here, i), trace, notes, lenient)
                    if spec.children
                    else self._convert(spec, item, context, here, i)
                    for i, item in enumerate(items)
                ]
                if not spec.children and _bad_text(out[spec.name], longest, control):
                    reason = _text_problem_in(out[spec.name], context.plausibility)
                    raise self._error(f"{self.contract.__name__} rejects it: {reason}", here, spec.path, raw)
            elif spec.children is not None:
                if raw is not None:
                    here = (*loc, spec.name)
                    out[spec.name] = self._build(spec.children, raw, context, here, trace, notes, lenient)
            else:
                value = self._read(spec, raw, context, loc, notes) if spec.transforms else raw
                if value is _DROP:
                    continue
                if value is _NULL:
                    out[spec.name] = None
                    continue
                if type(value) in _TEXT_HOLDERS and _bad_text(value, longest, control):
                    here, problem = (*loc, spec.name), _text_problem_in(value, context.plausibility)
                    reason = f"{self.contract.__name__} rejects it: {problem}"
                    if spec.on_error == "fail":
                        raise self._error(reason, here, spec.path, raw)
                    notes.append(FieldNote(".".join(map(str, here)), spec.path, _short(raw), reason))
                    if spec.on_error == "null":
                        out[spec.name] = None
                    continue
                if spec.on_error != "fail":
                    lenient[(*loc, spec.name)] = (spec, raw)
                if value is None:
                    value = spec.default
                if value is not None:
                    out[spec.name] = value
        return out

    def _read(
        self, spec: _Field, raw: Any, context: SourceContext, loc: tuple[Any, ...], notes: list[FieldNote]
    ) -> Any:
        """A field's converted value; a lenient field notes what it cannot read and gives it up."""
        try:
            return self._convert(spec, raw, context, loc)
        except MappingError as error:
            if spec.on_error == "fail":
                raise
            notes.append(
                FieldNote(".".join(map(str, (*loc, spec.name))), spec.path, _short(raw), error.reason)
            )
            return _NULL if spec.on_error == "null" else _DROP

    def _convert(
        self, spec: _Field, raw: Any, context: SourceContext, loc: tuple[Any, ...], index: int | None = None
    ) -> Any:
        value = raw
        for name, arg in spec.transforms:
            if value is None:
                break
            transform = TRANSFORMS[name]
            try:
                if isinstance(value, list) and name not in LIST_TRANSFORMS:
                    value = [transform(v, arg, context, self.tables) for v in value if v is not None]
                else:
                    value = transform(value, arg, context, self.tables)
            except TransformError as error:
                here = (*loc, spec.name) if index is None else (*loc, index)
                raise self._error(f"transform {name!r} failed: {error}", here, spec.path, raw) from None
        return spec.default if value is None else value

    def _error(self, reason: str, here: tuple[Any, ...], path: str | None, value: Any) -> MappingError:
        return MappingError(
            reason,
            file=self.file,
            field=".".join(map(str, here)),
            path=path,
            value=value,
            mapping=self.label,
        )


_TEXT_HOLDERS = frozenset({str, list, dict})


def _bad_text(value: Any, longest: int, control: Callable[[str], Any]) -> bool:
    """Whether a field's value holds text that is no name, line or note (too long, control
    characters): every leaf of every message passes here, so the common answer is quick."""
    kind = type(value)
    if kind is str:
        return len(value) > longest or control(value) is not None
    if kind is list:
        return any(type(item) is str and (len(item) > longest or control(item)) for item in value)
    if kind is dict:
        return any(_bad_text(item, longest, control) for item in (*value, *value.values()))
    return False


def _text_problem_in(value: Any, limits: Plausibility) -> str:
    """The reason ``_bad_text`` found, with the place inside a list or dictionary."""
    if isinstance(value, str):
        return text_problem(value, limits) or ""
    parts = enumerate(value) if isinstance(value, list) else [(k, k) for k in value] + list(value.items())
    for place, item in parts:
        if isinstance(item, (str, list, dict)) and (problem := _text_problem_in(item, limits)):
            return f"[{place!r}]{'' if problem.startswith('[') else ' '}{problem}"
    return ""


def _empty(data: dict[str, Any], loc: tuple[Any, ...], on_error: str) -> None:
    """Leave out (``drop``) or null (``null``) the value at ``loc`` of a record's input."""
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part]
    if on_error == "null":
        parent[loc[-1]] = None
    else:
        parent.pop(loc[-1], None)


def _nearest_trace(
    trace: dict[tuple[Any, ...], tuple[str | None, Any]], loc: tuple[Any, ...]
) -> tuple[str | None, Any]:
    """The recorded source path for a contract field (or its closest enclosing field)."""
    for length in range(len(loc), 0, -1):
        if loc[:length] in trace:
            return trace[loc[:length]]
    return None, None


@dataclass
class MappingSet:
    """All mappings of one system, in selection order (priority, then file name)."""

    system: str
    folder: Path
    mappings: list[Mapping] = field(default_factory=list)

    @classmethod
    def load(cls, system: str, folder: Path) -> MappingSet:
        if not folder.is_dir():
            raise MappingError(
                f"mapping folder for system {system!r} not found (create it, or pass --mappings DIR)",
                file=folder,
            )
        files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
        if not files:
            raise MappingError(f"no *.yaml mapping files for system {system!r}", file=folder)
        mappings = [Mapping.load(f) for f in files]
        mappings.sort(key=lambda m: -m.priority)
        return cls(system, folder, mappings)

    def select(self, envelope: MappingABC[str, Any]) -> Mapping:
        for mapping in self.mappings:
            if mapping.matches(envelope):
                return mapping
        topic = _describe(envelope)
        raise MappingError(
            f"no mapping in {self.folder.name}/ matches this message ({topic}); "
            f"known: {', '.join(m.label for m in self.mappings)}"
        )

    def message_id(self, envelope: MappingABC[str, Any]) -> str:
        """The message's id: explicit in the envelope, declared by its mapping, or a hash."""
        explicit = envelope.get("message_id")
        if explicit:
            return str(explicit)
        for mapping in self.mappings:
            if mapping.matches(envelope):
                derived = mapping.derive_message_id(envelope)
                if derived:
                    return derived
                break
        return content_hash(envelope)

    def entity_key(self, envelope: MappingABC[str, Any]) -> str | None:
        """The key that keeps one entity's messages in order (a Kafka partition key)."""
        for mapping in self.mappings:
            if mapping.matches(envelope):
                return mapping.derive_entity_key(envelope)
        return None


def _describe(envelope: MappingABC[str, Any]) -> str:
    headers = envelope.get("headers") or {}
    topic = next((v for k, v in headers.items() if k.lower().endswith("topic")), None)
    if topic:
        return f"topic {topic!r}"
    body = envelope.get("body")
    if isinstance(body, dict):
        return "body keys " + ", ".join(sorted(body)[:8])
    return f"body of type {type(body).__name__}"


def model_to_jsonable(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)
