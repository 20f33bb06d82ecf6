"""Conditional orders of one symbol waiting for their trigger, keyed by trigger price.

A stop fires when its price source (mark or last) reaches the trigger moving against the
position it protects (a buy stop: up; a sell stop: down), a take-profit when it moves in favour.
So each source has two sorted lists: triggers that fire on a rise (``price >= trigger``, kept
ascending) and on a fall (``price <= trigger``, kept descending). The orders that a price fires
are a prefix of each list, found by bisection: a mark move costs O(log n + fired) however many
stops rest untouched. Each list's head (the trigger nearest the price) is also kept as a plain
integer, so a price that fires nothing costs two comparisons a source, not a bisection: an
index tick over 5 000 resting stops costs what one over none does. Among the fired, the oldest
(lowest order id) goes first, as before.

The book is also the mapping ``order id -> order`` of everything waiting, in id order, which is
what views, snapshots and the state hash read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, MutableMapping

from sortedcontainers import SortedList

from engine.book import Order
from engine.enums import TriggerBy
from engine.errors import InvariantViolation


def fires_on_rise(order: Order) -> bool:
    """Stops fire when the price reaches the trigger moving against the position they
    protect (buy: up, sell: down); take-profits when it moves in favour."""
    return order.is_buy != order.type.is_take_profit


def is_triggered(order: Order, price: int) -> bool:
    assert order.trigger_price is not None
    return price >= order.trigger_price if fires_on_rise(order) else price <= order.trigger_price


class TriggerBook(MutableMapping[int, Order]):
    __slots__ = ("_orders", "_rising", "_falling", "_reach")

    def __init__(self) -> None:
        self._orders: dict[int, Order] = {}
        self._rising = {source: SortedList() for source in TriggerBy}
        """(trigger, order id), ascending: a price fires the prefix with trigger <= price."""
        self._falling = {source: SortedList() for source in TriggerBy}
        """(-trigger, order id), ascending: a price fires the prefix with trigger >= price."""
        self._reach: tuple[float, float, float, float] = self._heads()
        """The lowest trigger a rise of the mark fires, the highest a fall of the mark fires,
        the same two for the last price: the heads of the lists (±inf where one is empty),
        refreshed on every change, so that a price that fires nothing is four comparisons."""

    def _heads(self) -> tuple[float, float, float, float]:
        heads: list[float] = []
        for source in (TriggerBy.MARK, TriggerBy.LAST):
            rising, falling = self._rising[source], self._falling[source]
            heads.append(rising[0][0] if rising else math.inf)
            heads.append(-falling[0][0] if falling else -math.inf)
        return heads[0], heads[1], heads[2], heads[3]

    def _entry(self, order: Order) -> tuple[SortedList, tuple[int, int]]:
        assert order.trigger_price is not None and order.trigger_by is not None
        if fires_on_rise(order):
            return self._rising[order.trigger_by], (order.trigger_price, order.order_id)
        return self._falling[order.trigger_by], (-order.trigger_price, order.order_id)

    # -- the mapping ---------------------------------------------------------------------------

    def __getitem__(self, order_id: int) -> Order:
        return self._orders[order_id]

    def __setitem__(self, order_id: int, order: Order) -> None:
        assert order.order_id == order_id
        if order_id in self._orders:
            del self[order_id]
        self._orders[order_id] = order
        keys, key = self._entry(order)
        keys.add(key)
        self._reach = self._heads()

    def __delitem__(self, order_id: int) -> None:
        order = self._orders.pop(order_id)
        keys, key = self._entry(order)
        keys.remove(key)
        self._reach = self._heads()

    def __iter__(self) -> Iterator[int]:
        return iter(self._orders)

    def __len__(self) -> int:
        return len(self._orders)

    # -- firing --------------------------------------------------------------------------------

    def next_fired(self, mark: int | None, last: int | None) -> Order | None:
        """The oldest waiting order whose trigger ``mark`` or ``last`` reaches, or None.
        O(1) when they fire none, O(log n + k) for the k orders they fire."""
        mark_rise, mark_fall, last_rise, last_fall = self._reach
        if not ((mark is not None and (mark >= mark_rise or mark <= mark_fall))
                or (last is not None and (last >= last_rise or last <= last_fall))):
            return None
        oldest: int | None = None
        for source, price in ((TriggerBy.MARK, mark), (TriggerBy.LAST, last)):
            if price is None:
                continue
            for keys, bound in ((self._rising[source], price), (self._falling[source], -price)):
                # every entry (t, id) with t <= bound fires: the prefix before (bound + 1, 0)
                for _, order_id in keys.islice(0, keys.bisect_left((bound + 1, 0))):
                    if oldest is None or order_id < oldest:
                        oldest = order_id
        return None if oldest is None else self._orders[oldest]

    def check_invariants(self) -> None:
        """Every waiting order is in exactly one sorted list, under its own trigger."""
        entries = sum(len(keys) for keys in (*self._rising.values(), *self._falling.values()))
        if entries != len(self._orders):
            raise InvariantViolation(f"trigger lists hold {entries} entries for "
                                 f"{len(self._orders)} waiting orders")
        for order in self._orders.values():
            keys, key = self._entry(order)
            if key not in keys:
                raise InvariantViolation(f"{order!r} is not listed under its trigger")
        if self._reach != self._heads():
            raise InvariantViolation("the trigger lists' cached heads are stale")
