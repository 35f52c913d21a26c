"""``hub init``'s starter file, written from the settings' own declarations: every key with its
description and default, so the file cannot drift from what the hub reads (a test loads it and
compares it with the defaults). Keys without a default value (unset) and example tables are
written as comments."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hub.settings import BUNDLED_MAPPINGS, HubSettings, SystemConfig

__all__ = ["starter_file"]

HEADER = """\
# hub.toml - configuration of the integration hub, written by `hub init`.
# Every key is optional; the values shown are the defaults, commented keys are unset.
# Environment variables HUB_<KEY> override this file (nested: HUB_TRACKING__PAID_NOT_SHIPPED_HOURS).
"""

EXAMPLE_SYSTEMS = {
    "shopify": SystemConfig(adapter="shopify", secret_env="SHOPIFY_WEBHOOK_SECRET"),
    "warehouse": SystemConfig(
        adapter="file", drop_folder=Path("/srv/hub/drop/wms"), timezone="Europe/Berlin"
    ),
}


def starter_file() -> str:
    lines = [HEADER]
    _table(HubSettings(), (), lines)
    lines.append("")
    lines.append("# One table per source system; a legacy ERP or CRM over SOAP is a longer block: see")
    lines.append("# deploy/erp-system.toml, deploy/crm-system.toml and docs/SOURCES.md. For example:")
    for name, system in EXAMPLE_SYSTEMS.items():
        example: list[str] = []
        _table(system, ("systems", name), example, header=True)
        lines.extend(f"# {line}" if line else "#" for line in example)
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(model: BaseModel, path: tuple[str, ...], lines: list[str], *, header: bool = False) -> None:
    """The model's keys, then its nested tables (TOML wants the keys of a table before them)."""
    fields = type(model).model_fields
    nested: list[tuple[str, Any]] = []
    body: list[str] = []
    for name, field in fields.items():
        value = getattr(model, name)
        about = field.description or ""
        if isinstance(value, BaseModel) or (isinstance(value, dict) and value and _all_models(value)):
            nested.append((name, value))
        elif name == "systems":
            continue  # written as commented examples after everything else
        elif value is None or value == {} or (isinstance(value, Path) and value == BUNDLED_MAPPINGS):
            default = "the mappings shipped with the hub" if value == BUNDLED_MAPPINGS else "unset"
            body.append(f"# {name}: {about} ({default})" if about else f"# {name}: ({default})")
        else:
            body.append(f"{name} = {_value(value)}" + (f"  # {about}" if about else ""))
    if body or header:
        if path:
            lines.append("")
            doc = " ".join((type(model).__doc__ or "").split())
            if doc and not header:
                lines.extend(f"# {line}" for line in textwrap.wrap(doc, 96))
            lines.append(f"[{'.'.join(path)}]")
        lines.extend(body)
    for name, value in nested:
        if isinstance(value, BaseModel):
            _table(value, (*path, name), lines)
        else:  # named models: one inline table each
            lines.append("")
            about = fields[name].description
            if about:
                lines.append(f"# {about}")
            lines.append(f"[{'.'.join((*path, name))}]")
            for key, item in value.items():
                lines.append(f"{key} = {_inline(item)}")


def _all_models(value: dict[str, Any]) -> bool:
    return all(isinstance(v, BaseModel) for v in value.values())


def _inline(model: BaseModel) -> str:
    parts = [f"{k} = {_value(v)}" for k, v in model.model_dump().items() if v is not None]
    return "{ " + ", ".join(parts) + " }"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal | Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)
