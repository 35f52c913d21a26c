"""A legacy ERP to integrate with: a real SOAP server (spyne) over the ERP's books."""

from __future__ import annotations

from typing import Any

from simulators.erp.book import LOCAL_FORMAT, ErpBook
from simulators.erp.server import ErpSimulator

__all__ = ["ErpBook", "ErpSimulator", "erp_system"]

_ENTITIES = {
    "customers": "GetCustomersChangedSince",
    "orders": "GetSalesOrdersChangedSince",
    "payments": "GetPaymentsChangedSince",
    "deliveries": "GetDeliveriesChangedSince",
    "items": "GetItemsChangedSince",
    "production": "GetProductionOrdersChangedSince",
}


def erp_system(wsdl: str, *, page_size: int = 500, outbound: bool = True, **soap: Any) -> dict[str, Any]:
    """The ``[systems.erp]`` table for the simulator (the same as in deploy/hub.toml), as data:
    the settings of the process that reads it validate it."""
    entities = {
        name: {
            "operation": operation,
            "request": {"Since": "{since}", "Page": "{page}", "PageSize": "{page_size}"},
            "paging": "page",
            "page_size": page_size,
            "cursor_field": "ChangedAt",
            "cursor_format": LOCAL_FORMAT,
            "initial_cursor": "01.01.2000 00:00:00",
        }
        for name, operation in _ENTITIES.items()
    }
    return {
        "adapter": "soap",
        "timezone": "Europe/Berlin",
        "phone_region": "DE",
        "soap": {"wsdl": wsdl, "entities": entities, **soap},
        "outbound": {"enabled": outbound, "channels": ["web", "crm", "phone"]},
        "planned_orders": {"enabled": outbound},
    }
