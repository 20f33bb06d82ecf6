"""The order book of one symbol: structure only, no accounts, no matching rules.

Each side is a ``BookSide``, a tick-indexed ladder: a dict from price (in ticks) to ``Level``,
the best occupied level cached, and a heap of the ranked keys (the price for asks, the
negated price for bids, so the smallest key is the best level on both sides). The heap is
touched only when a level becomes occupied or the best level empties, never per order.

A level that empties stays in the dict as a spare for its price (markets come back to the
same ticks), so a new order at a recently used price costs no allocation. It keeps its heap
entry, now stale, until that entry reaches the top; spare levels are dropped in one pass once
they outnumber the occupied ones by ``SPARE_SLACK``, so the ladder holds O(occupied) levels.
Dropped levels go to a pool that new prices take theirs from (quotes that follow a moving
market open a new level for most orders), so a level is allocated once, not once per price.

Inside a level, orders queue in a ``deque`` (time priority). Cancelling from the middle of a
deque would be O(n), so a cancelled order is only marked dead and the level's totals are
corrected at once; the dead entry is dropped when it reaches the front (lazy deletion), and a
level whose dead entries outnumber its live ones is compacted, so a level never holds more
than O(live) entries (DESIGN.md §3.1). Totals are always exact.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from heapq import heapify, heappop, heappush
from itertools import islice

import msgspec

from engine.enums import OrderType, Side, StpMode, TimeInForce, TriggerBy
from engine.errors import InvariantViolation

_BUY = Side.BUY  # an enum class attribute costs a metaclass lookup on every read


class Order(msgspec.Struct, kw_only=True, eq=False, gc=False):
    """An accepted order: resting in a book, waiting for its trigger, or being matched.

    A msgspec Struct rather than a class with ``__init__``: it is built by keyword with the
    defaults filled in C, without the kwargs dict a Python ``__init__`` costs (about a
    microsecond an order). Equality is identity (``eq=False``); an order holds no reference
    cycle, so the garbage collector need not track it (``gc=False``).
    """

    order_id: int
    account: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    """Total quantity in lots, filled part included."""
    price: int | None
    """Limit price in ticks; None for a market order."""
    trigger_price: int | None = None
    trigger_by: TriggerBy | None = None
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_id: str | None = None
    stp: StpMode = StpMode.EXPIRE_MAKER
    filled: int = 0
    queued: int = 0
    """When the order joined its book's queue (a per-book counter): time priority."""
    live: bool = False
    """True exactly while the order rests in a book. A taker being matched, a conditional
    order and an order that left the book are not live; the dead entry of the last may
    linger in a level's deque until it reaches the front."""
    is_buy: bool = False
    """Derived from ``side`` when the order is built (read on every hot path)."""

    def __post_init__(self) -> None:
        self.is_buy = self.side is _BUY

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    def __repr__(self) -> str:
        return (f"Order({self.order_id} {self.account} {self.side} {self.remaining}/{self.qty}"
                f" @ {self.price})")


class Level:
    __slots__ = ("price", "qty", "count", "orders", "ranked")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        """Sum of the remaining quantity of the live orders at this price."""
        self.count = 0
        """Number of live orders at this price; 0 for a spare level."""
        self.orders: deque[Order] = deque()
        self.ranked = False
        """True while the level's key is in its side's heap (stale once the level is empty)."""

    def front(self) -> Order:
        """The live order with time priority (drops dead entries on the way). O(1) amortised."""
        orders = self.orders
        while not orders[0].live:
            orders.popleft()
        return orders[0]

    def live_orders(self) -> Iterator[Order]:
        return (order for order in self.orders if order.live)

    def compact(self) -> None:
        """Drop every dead entry. O(entries); called when they outnumber the live ones."""
        self.orders = deque([order for order in self.orders if order.live])


COMPACT_SLACK = 16
"""A level is compacted once its deque exceeds twice its live orders plus this slack."""
SPARE_SLACK = 256
"""Spare (empty) levels a side keeps beyond its occupied ones before it drops them all."""


class BookSide:
    """One side of a book: a tick-indexed ladder of levels, the best level cached."""

    __slots__ = ("is_bid", "sign", "by_price", "heap", "best", "occupied", "_spares_at", "_pool")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.sign = -1 if is_bid else 1
        """key = sign * price: the smallest key is the best price on both sides."""
        self.by_price: dict[int, Level] = {}
        """Occupied and spare levels by price."""
        self.heap: list[int] = []
        """Keys of the ranked levels: every occupied one, and spares not yet popped."""
        self.best: Level | None = None
        self.occupied = 0
        """Number of levels holding a live order."""
        self._spares_at = SPARE_SLACK + 1
        """Drop the spare levels before the ladder grows past this many levels."""
        self._pool: list[Level] = []
        """Dropped spare levels, empty and unranked, for new prices to re-use: moving quotes
        open a new level for most orders, and a re-keyed level costs no allocation."""

    def __len__(self) -> int:
        return self.occupied

    def __bool__(self) -> bool:
        return self.best is not None

    def level_for(self, price: int) -> Level:
        """The level at ``price`` (occupied or spare), created if absent."""
        level = self.by_price.get(price)
        if level is None:
            if len(self.by_price) >= self._spares_at:
                self._drop_spares()
            pool = self._pool
            if pool:
                level = pool.pop()
                level.price = price
            else:
                level = Level(price)
            self.by_price[price] = level
        return level

    def vacate(self, level: Level) -> None:
        """``level`` lost its last live order: it becomes a spare, and if it was the best the
        next occupied level takes its place (stale heap entries are popped on the way).
        O(1), or O(log L) per popped entry."""
        orders = level.orders
        if orders:
            orders.clear()  # only dead entries are left
        self.occupied -= 1
        if self.best is not level:
            return  # its key is now stale in the heap; popped when it reaches the top
        heap, by_price, sign = self.heap, self.by_price, self.sign
        level.ranked = False
        heappop(heap)  # the best level's key is the top
        while heap:
            top = by_price[sign * heap[0]]
            if top.count:
                self.best = top
                return
            top.ranked = False
            heappop(heap)
        self.best = None

    def _drop_spares(self) -> None:
        """Move every spare level to the pool and re-rank the occupied ones. O(L), once per
        ``SPARE_SLACK`` or more levels created."""
        sign = self.sign
        kept = {}
        pool = self._pool
        for price, level in self.by_price.items():
            if level.count:
                kept[price] = level
            else:
                level.ranked = False  # out of the heap rebuilt below
                pool.append(level)
        self.by_price = kept
        self.heap = [sign * price for price in kept]
        heapify(self.heap)
        for level in kept.values():
            level.ranked = True
        self._spares_at = 2 * len(kept) + SPARE_SLACK + 1

    def __iter__(self) -> Iterator[Level]:
        """Occupied levels, best first. Walks the ticks out from the best while the book is
        dense; past gaps that add up to a quarter of the heap, sorts the keys once instead
        (a heap of spare keys left by moving quotes makes a full-length walk the dearer)."""
        level = self.best
        if level is None:
            return
        by_price, sign = self.by_price, self.sign
        left = self.occupied
        key = sign * level.price
        budget = 16 + len(self.heap) // 4
        while True:
            yield level
            left -= 1
            if left <= 0:
                return
            while True:
                key += 1
                level = by_price.get(sign * key)
                if level is not None and level.count:
                    break
                budget -= 1
                if budget < 0:
                    keys = sorted(self.heap)
                    for later in islice(keys, bisect_right(keys, key), None):
                        level = by_price.get(sign * later)
                        if level is not None and level.count:
                            yield level
                    return


class OrderBook:
    """Resting limit orders of one symbol in price-time priority."""

    __slots__ = ("symbol", "bids", "asks", "orders", "_queued")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.orders: dict[int, Order] = {}
        self._queued = 0

    # -- queries --

    def best_bid(self) -> int | None:
        best = self.bids.best
        return None if best is None else best.price

    def best_ask(self) -> int | None:
        best = self.asks.best
        return None if best is None else best.price

    def best_level(self, side: Side) -> Level | None:
        """The best level of ``side`` (the side a taker of the other side trades against)."""
        return (self.bids if side is _BUY else self.asks).best

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of one side, best first."""
        return iter(self.bids if side is _BUY else self.asks)

    def depth(self, side: Side, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` (price, qty) levels of one side, best first."""
        out: list[tuple[int, int]] = []
        for level in self.levels(side):
            if len(out) == count:
                break
            out.append((level.price, level.qty))
        return out

    def would_cross(self, is_buy: bool, price: int) -> bool:
        """Would a limit order at ``price`` meet resting liquidity on the other side?"""
        if is_buy:
            best = self.asks.best
            return best is not None and best.price <= price
        best = self.bids.best
        return best is not None and best.price >= price

    # -- commands --

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level. O(1), O(log L) for a new level.

        An order object that has left the book is never added again: its dead entry may still
        sit in a deque, and reviving it would make it live there too.
        """
        assert order.price is not None and not order.live and order.order_id not in self.orders
        side = self.bids if order.is_buy else self.asks
        price = order.price
        level = side.by_price.get(price)
        if level is None:
            level = side.level_for(price)
        if not level.count:
            # the level opens (half the orders of a busy book do): rank it unless its key is
            # still in the heap, and make it the best if it is
            side.occupied += 1
            if not level.ranked:
                level.ranked = True
                heappush(side.heap, side.sign * price)
            best = side.best
            if best is None or (price > best.price if side.is_bid else price < best.price):
                side.best = level
        level.orders.append(order)
        level.qty += order.qty - order.filled
        level.count += 1
        self._queued = queued = self._queued + 1
        order.queued = queued
        order.live = True
        self.orders[order.order_id] = order

    def remove(self, order: Order) -> None:
        """Take ``order`` out of the book (cancelled or fully filled). O(1), O(log L) when
        its level was the best and empties."""
        side = self.bids if order.is_buy else self.asks
        level = side.by_price[order.price]
        level.qty -= order.qty - order.filled
        order.live = False
        del self.orders[order.order_id]
        count = level.count = level.count - 1
        if not count:
            side.vacate(level)
        elif len(level.orders) > 2 * count + COMPACT_SLACK:
            level.compact()

    def reduce(self, order: Order, qty: int, *, filled: bool) -> None:
        """Shrink a resting order in place, keeping its queue priority. Removes it at zero.

        Args:
            qty: lots to take off the remaining quantity.
            filled: True when the lots traded (they count as filled), False for an amend.
        """
        assert order.price is not None
        if qty == order.qty - order.filled:
            self.remove(order)
        else:
            (self.bids if order.is_buy else self.asks).by_price[order.price].qty -= qty
        if filled:
            order.filled += qty
        else:
            order.qty -= qty

    def check_invariants(self) -> None:
        """Raise InvariantViolation if the structure is inconsistent."""
        best_bid, best_ask = self.best_bid(), self.best_ask()
        if not (best_bid is None or best_ask is None or best_bid < best_ask):
            raise InvariantViolation(
                f"{self.symbol}: book crossed, bid {best_bid} >= ask {best_ask}")
        seen = 0
        for side in (self.bids, self.asks):
            sign = side.sign
            occupied = {p: lv for p, lv in side.by_price.items() if lv.count}
            if side.occupied != len(occupied):
                raise InvariantViolation(f"{self.symbol}: occupied count {side.occupied}")
            ranked = sorted(sign * lv.price for lv in side.by_price.values() if lv.ranked)
            if sorted(side.heap) != ranked:
                raise InvariantViolation(f"{self.symbol}: heap keys differ from ranked levels")
            heap = side.heap
            if any(heap[(i - 1) // 2] > heap[i] for i in range(1, len(heap))):
                raise InvariantViolation(f"{self.symbol}: heap order broken")
            if not (len(side.by_price) <= side._spares_at):
                raise InvariantViolation(f"{self.symbol}: spare levels pile up")
            for level in side._pool:
                if (level.count or level.qty or level.orders or level.ranked
                        or side.by_price.get(level.price) is level):
                    raise InvariantViolation(
                        f"{self.symbol}: pooled level {level.price} is in use")
            if occupied:
                best = min(occupied.values(), key=lambda lv: sign * lv.price)
                if side.best is not best or side.heap[0] != sign * best.price:
                    raise InvariantViolation("stale best level")
            elif side.best is not None or side.heap:
                raise InvariantViolation("best level cached on an empty side")
            if [lv.price for lv in side] != sorted(occupied, key=lambda p: sign * p):
                raise InvariantViolation(f"{self.symbol}: levels not walked best first")
            for price, level in side.by_price.items():
                live = list(level.live_orders())
                if price != level.price:
                    raise InvariantViolation(f"level {level.price} is filed under {price}")
                if not level.count:
                    if live or level.orders or level.qty:
                        raise InvariantViolation(
                            f"{self.symbol}: spare level {level.price} holds orders")
                    continue
                if not level.ranked:
                    raise InvariantViolation(f"level {level.price} is occupied but not ranked")
                if not (level.count == len(live)):
                    raise InvariantViolation(f"level {level.price}: count {level.count}")
                if not (len(level.orders) <= 2 * level.count + COMPACT_SLACK):
                    raise InvariantViolation(
                        f"level {level.price}: {len(level.orders)} entries for {level.count} live")
                if not (level.qty == sum(o.remaining for o in live)):
                    raise InvariantViolation(f"level {level.price}: qty")
                for order in live:
                    if not (order.price == level.price and order.is_buy == side.is_bid):
                        raise InvariantViolation(f"{order!r} is in the wrong level or side")
                    if not (0 < order.remaining <= order.qty):
                        raise InvariantViolation(f"{order!r}: bad remaining")
                    if self.orders.get(order.order_id) is not order:
                        raise InvariantViolation(f"{order!r} not indexed")
                    seen += 1
        if not (seen == len(self.orders)):
            raise InvariantViolation(f"{self.symbol}: index holds orders not in a level")
