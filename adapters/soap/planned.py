"""Planning recommendations handed to the ERP as planned production orders, exactly once a day.

The outbound path of the sales-order sync, driven by the planning view instead of the log: each
buffered item made at a work centre (one of ``work_centres``, when the configuration names some)
with a recommendation becomes one ``CreatePlannedOrder`` under the external reference
``HUB-PLAN:<sku>:<date>``. The row in ``hub_outbound`` is written ``sending`` before the call,
so a timeout or a crash leads to a look-up before any second create; the ERP's answer (its order
number) is stored raw in the inbox and mapped to a planned ``SupplyOrder``, which puts the
quantity on order at once — the recommendation is not repeated while the ERP's own listing
catches up. The kill switch (``hub outbound pause``) and ``planned_orders.enabled`` stop it like
the sales-order sync.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from adapters.soap.client import SoapCallFailed
from adapters.soap.outbound import OutboundReport, OutboundSyncer
from adapters.soap.poller import ENTITY_HEADER, OPERATION_HEADER

__all__ = ["PLANNED_ENTITY", "PlannedOrderPush"]

PLANNED_ENTITY = "*planned"


class PlannedOrderPush(OutboundSyncer):
    lease_entity = PLANNED_ENTITY
    config_key = "planned_orders"

    def _run(
        self, report: OutboundReport, on_order: Callable[[OutboundReport], None] | None
    ) -> OutboundReport:
        today = self.ports.plan.today()
        centres = set(self.config.work_centres)  # type: ignore[union-attr]
        # Production orders need a work centre: bought items (none) are not pushed as production.
        wanted = [
            b
            for b in self.ports.plan.buffers()
            if b.get("recommendation")
            and b.get("work_centre")
            and (not centres or b["work_centre"] in centres)
        ]
        try:
            for buffer in wanted:
                if not self._may_go_on(report):
                    return report
                self._push(buffer, today, report)
                if on_order is not None:
                    on_order(report)
        except SoapCallFailed as error:
            report.error = str(error)
            self.state.failed(self.target, self.lease_entity, report.error)
            return report
        report.skipped = len(self.ports.plan.buffers()) - len(wanted)
        self.state.succeeded(self.target, self.lease_entity)
        return report

    def _push(self, buffer: dict[str, Any], today: date, report: OutboundReport) -> None:
        sku = buffer["sku"]
        key = f"plan:{sku}:{today.isoformat()}"
        external_ref = f"HUB-PLAN:{sku}:{today.isoformat()}"
        rows = self.ports.store.query(
            "SELECT state FROM hub_outbound WHERE target = ? AND order_id = ?", (self.target, key)
        )
        if rows and rows[0]["state"] in ("created", "found", "rejected"):
            return  # handed over (or refused) today already
        if not rows:
            with self.ports.store.transaction() as cursor:
                self.ports.store.execute(
                    cursor,
                    "INSERT INTO hub_outbound (target, order_id, order_system, order_ref, external_ref, "
                    "state, attempts, position, updated_at) "
                    "VALUES (?, ?, 'planning', ?, ?, 'sending', 0, 0, ?)",
                    (self.target, key, sku, external_ref, _now()),
                )
        recommendation = buffer["recommendation"]
        due = date.fromisoformat(recommendation["due"])
        document = {
            "external_ref": external_ref,
            "sku": sku,
            "description": buffer.get("description"),
            "quantity": recommendation["quantity"],
            "due": due.isoformat(),
            # Noon UTC of the due day, so a `local:` format keeps the date in any ERP time zone.
            "due_at": datetime.combine(due, time(12), UTC).isoformat(),
            "work_centre": buffer.get("work_centre"),
            "buffer": buffer["colour"],
            "status_percent": buffer["status_percent"],
        }
        outcome = self._deliver(document, key, bool(rows), report)
        self._settle(key, document, outcome)
        report.add(external_ref, outcome)

    def _settle(self, key: str, document: dict[str, Any], outcome: dict[str, Any]) -> None:
        def settle(cursor: Any) -> None:
            self.ports.store.execute(
                cursor,
                "UPDATE hub_outbound SET state = ?, target_ref = ?, reason = ?, updated_at = ? "
                "WHERE target = ? AND order_id = ?",
                (outcome["state"], outcome["target_ref"], outcome["reason"], _now(), self.target, key),
            )

        if outcome["state"] == "rejected":  # nothing happened in the ERP: the reason is the record
            with self.ports.store.transaction() as cursor:
                settle(cursor)
            return
        envelope = {
            "headers": {ENTITY_HEADER: "planned", OPERATION_HEADER: self.spec.create_operation},
            "body": {
                "ExternalRef": document["external_ref"],
                "OrderNo": outcome["target_ref"],
                "Status": outcome["state"],
                "ItemNo": document["sku"],
                "Quantity": document["quantity"],
                "DueDate": document["due"],
                "WorkCentre": document["work_centre"],
                "At": _now(),
            },
        }
        self.receive(self.target, [envelope], settle)


def _now() -> str:
    return datetime.now(UTC).isoformat()
