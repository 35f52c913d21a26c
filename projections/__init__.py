"""Read models built from the event log, each rebuildable from scratch."""

from projections.order_anomalies import ANOMALIES, Anomaly, Thresholds, anomalies
from projections.order_tracking import TrackedOrder, apply_event, concerns, public_view

__all__ = [
    "ANOMALIES",
    "Anomaly",
    "Thresholds",
    "TrackedOrder",
    "anomalies",
    "apply_event",
    "concerns",
    "public_view",
]
