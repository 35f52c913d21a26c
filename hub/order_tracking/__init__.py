"""Order tracking, in one home: its tables and how processing and the projector apply events to
them (``tables.py``), the document cache (``cache.py``) and the reads (``queries.py``). The fold
itself is pure and lives in ``projections/order_tracking.py``."""

from hub.order_tracking.queries import AmbiguousOrderRef, OrderQueries
from hub.order_tracking.tables import OrderTrackingTables

__all__ = ["AmbiguousOrderRef", "OrderQueries", "OrderTrackingTables"]
