"""The reference of every SOAP source option, written from the settings models themselves.

``python -m adapters.soap.settings_reference > docs/SOAP.md`` rewrites it; a unit test fails when the
committed file and the models disagree, so an option can never be added, renamed or given another
default without its reference following.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from adapters.soap.settings import (
    OutboundSync,
    PlannedOrders,
    SoapEntity,
    SoapFollowUp,
    SoapSession,
    SoapSource,
)
from hub.mapping.transforms import TRANSFORMS

__all__ = ["soap_reference"]

_SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("[systems.NAME.soap]", SoapSource),
    ("[systems.NAME.soap.session]", SoapSession),
    ("[systems.NAME.soap.entities.ENTITY]", SoapEntity),
    ("[systems.NAME.soap.entities.ENTITY.more]", SoapFollowUp),
    ("[systems.NAME.outbound]", OutboundSync),
    ("[systems.NAME.planned_orders]", PlannedOrders),
]

_INTRODUCTION = """\
# SOAP sources: every option

Generated from the settings models by `python -m adapters.soap.settings_reference > docs/SOAP.md`; a test
keeps it current. How the options work together, with a whole ERP and a whole Salesforce org as
examples, is in `docs/SOURCES.md`; `deploy/erp-system.toml` and `deploy/crm-system.toml` are
complete configurations. A key that is not listed here is an error naming the nearest valid key.

Request templates (`request` of an entity, of `[more]` and of the session) are TOML tables whose
strings may hold placeholders: `{since}` (the cursor less `overlap_seconds`), `{now}`, `{page}`,
`{page_size}`, `{bookmark}`, `{locator}` (the next batch of `paging = "locator"`), `{ids}` (the
changed ids of `paging = "changes"`), `{username}`, `{password}` (the session login) and
`{session}` (the session header). A string that is only a placeholder keeps the value's type; an
empty placeholder leaves the argument out. What a record becomes is its mapping's business
(`docs/CONFIGURATION.md`); the transforms a mapping field may apply are listed at the end.
"""


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None)) + " (optional)"
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"table of {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "none"
    return f"`{json.dumps(value, ensure_ascii=False, default=str)}`"


def soap_reference() -> str:
    parts = [_INTRODUCTION]
    for heading, model in _SECTIONS:
        doc = " ".join((model.__doc__ or "").split()).replace("``", "`")
        parts.append(
            f"\n## `{heading}`\n\n{doc}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |"
        )
        for name, field in model.model_fields.items():
            meaning = " ".join((field.description or "").split()).replace("|", "\\|")
            parts.append(f"| `{name}` | {_type(field.annotation)} | {_default(field)} | {meaning} |")
    parts.append(
        "\n## Mapping transforms (every source)\n\n`transforms: [name, name:argument, …]` on a mapping "
        "field, applied in order; each failure names the value.\n\n| transform | does |\n| --- | --- |"
    )
    for name, transform in TRANSFORMS.items():
        does = " ".join((transform.__doc__ or "").split()).replace("``", "`").replace("|", "\\|")
        parts.append(f"| `{name}` | {does} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(soap_reference(), end="")
