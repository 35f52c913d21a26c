"""Read models built from the event log, each rebuildable from scratch."""

from projections.order_tracking import (
    Anomaly,
    Thresholds,
    TrackedOrder,
    anomalies,
    apply_event,
    concerns,
    public_view,
)

__all__ = ["Anomaly", "Thresholds", "TrackedOrder", "anomalies", "apply_event", "concerns", "public_view"]
