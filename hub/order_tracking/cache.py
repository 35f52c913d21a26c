"""Orders as a projection last wrote them, so the next batch folds on instead of reading again.

An order's tracking is the fold of all its facts; reading it back from its stored document means
folding every fact again. A projection that keeps the orders it wrote can apply the next events to
them directly — as long as nobody else wrote in between (its position is the one it reached) and
its last transaction committed.
"""

from __future__ import annotations

from collections import OrderedDict

from hub.store import Store
from projections import TrackedOrder

__all__ = ["OrderCache", "written_before_event_time"]


def written_before_event_time(store: Store, table: str) -> bool:
    """Whether a table of tracked-order documents holds one written before orders were folds of
    their facts: such a document cannot be folded on, its projection must be rebuilt."""
    rows = store.query(f"SELECT document FROM {table} LIMIT 1")
    return bool(rows) and '"facts":' not in rows[0]["document"]


class OrderCache:
    def __init__(self, size: int = 50_000) -> None:
        self._orders: OrderedDict[str, TrackedOrder] = OrderedDict()
        self._size = size
        self._position: int | None = None

    def at(self, position: int) -> None:
        """The projection is about to apply events after ``position``: what it kept is only
        valid if that is where it stopped."""
        if self._position != position:
            self._orders.clear()

    def get(self, key: str) -> TrackedOrder | None:
        return self._orders.get(key)

    def keep(self, orders: dict[str, TrackedOrder | None], reaches: int) -> None:
        """The orders as written in the transaction that brings the projection to ``reaches``."""
        for key, tracked in orders.items():
            if tracked is not None:
                self._orders[key] = tracked
                self._orders.move_to_end(key)
        while len(self._orders) > self._size:
            self._orders.popitem(last=False)
        self._position = reaches

    def forget(self) -> None:
        """The transaction rolled back (or the tables were replaced): nothing kept is true."""
        self._orders.clear()
        self._position = None
