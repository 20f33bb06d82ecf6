"""The order book of one symbol: structure only, no accounts, no matching rules.

Each side is a ``BookSide``: a dict from price to ``Level`` plus a ``SortedList`` of keys
(the price for asks, the negated price for bids, so index 0 is the best level on both sides),
and the best ``Level`` cached, so the matching loop reads the top of the book as one
attribute. Inside a level, orders queue in a ``deque`` (time priority). Cancelling from the
middle of a deque would be O(n), so a cancelled order is only marked dead and the level's
totals are corrected at once; the dead entry is dropped when it reaches the front (lazy
deletion), and a level whose dead entries outnumber its live ones is compacted, so a level
never holds more than O(live) entries (DESIGN.md §3.1). Totals are always exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from sortedcontainers import SortedList

from engine.enums import OrderType, Side, StpMode, TimeInForce, TriggerBy
from engine.errors import InvariantViolation


class Order:
    """An accepted order: resting in a book, waiting for its trigger, or being matched."""

    __slots__ = (
        "order_id", "account", "symbol", "side", "is_buy", "type", "qty", "filled", "price",
        "trigger_price", "trigger_by", "tif", "post_only", "reduce_only", "client_id", "stp",
        "live", "queued",
    )

    def __init__(self, *, order_id: int, account: str, symbol: str, side: Side, type: OrderType,
                 qty: int, price: int | None, trigger_price: int | None = None,
                 trigger_by: TriggerBy | None = None, tif: TimeInForce = TimeInForce.GTC,
                 post_only: bool = False, reduce_only: bool = False,
                 client_id: str | None = None, stp: StpMode = StpMode.EXPIRE_MAKER) -> None:
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.is_buy = side is Side.BUY
        self.type = type
        self.qty = qty
        """Total quantity in lots, filled part included."""
        self.filled = 0
        self.price = price
        """Limit price in ticks; None for a market order."""
        self.trigger_price = trigger_price
        self.trigger_by = trigger_by
        self.tif = tif
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.client_id = client_id
        self.stp = stp
        self.queued = 0
        """When the order joined its book's queue (a per-book counter): time priority."""
        self.live = False
        """True exactly while the order rests in a book. A taker being matched, a conditional
        order and an order that left the book are not live; the dead entry of the last may
        linger in a level's deque until it reaches the front."""

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    def __repr__(self) -> str:
        return (f"Order({self.order_id} {self.account} {self.side} {self.remaining}/{self.qty}"
                f" @ {self.price})")


class Level:
    __slots__ = ("price", "qty", "count", "orders")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        """Sum of the remaining quantity of the live orders at this price."""
        self.count = 0
        """Number of live orders at this price."""
        self.orders: deque[Order] = deque()

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


class BookSide:
    """One side of a book: price -> Level, the sorted keys, and the best level cached."""

    __slots__ = ("is_bid", "by_price", "keys", "best")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.by_price: dict[int, Level] = {}
        self.keys = SortedList()
        """Prices for asks, negated prices for bids: index 0 is the best on both sides."""
        self.best: Level | None = None

    def __len__(self) -> int:
        return len(self.by_price)

    def __bool__(self) -> bool:
        return self.best is not None

    def level_for(self, price: int) -> Level:
        """The level at ``price``, created (and ranked) if absent. O(log L) when new."""
        level = self.by_price.get(price)
        if level is None:
            level = self.by_price[price] = Level(price)
            self.keys.add(-price if self.is_bid else price)
            best = self.best
            if best is None or (price > best.price if self.is_bid else price < best.price):
                self.best = level
        return level

    def drop(self, level: Level) -> None:
        """Forget an emptied level. O(log L)."""
        price = level.price
        del self.by_price[price]
        keys = self.keys
        keys.remove(-price if self.is_bid else price)
        if self.best is level:
            if keys:
                key = keys[0]
                self.best = self.by_price[-key if self.is_bid else key]
            else:
                self.best = None

    def __iter__(self) -> Iterator[Level]:
        """Levels best first."""
        by_price = self.by_price
        if self.is_bid:
            return (by_price[-key] for key in self.keys)
        return (by_price[key] for key in self.keys)


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
        return (self.bids if side is Side.BUY else self.asks).best

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of one side, best first."""
        return iter(self.bids if side is Side.BUY else self.asks)

    def depth(self, side: Side, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` (price, qty) levels of one side, best first."""
        out = []
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
        level = (self.bids if order.is_buy else self.asks).level_for(order.price)
        level.orders.append(order)
        level.qty += order.qty - order.filled
        level.count += 1
        self._queued += 1
        order.queued = self._queued
        order.live = True
        self.orders[order.order_id] = order

    def remove(self, order: Order) -> None:
        """Take ``order`` out of the book (cancelled or fully filled). O(1), O(log L) when
        its level empties."""
        side = self.bids if order.is_buy else self.asks
        level = side.by_price[order.price]
        level.qty -= order.qty - order.filled
        level.count -= 1
        order.live = False
        del self.orders[order.order_id]
        if level.count == 0:
            side.drop(level)
        elif len(level.orders) > 2 * level.count + COMPACT_SLACK:
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
        for side, sign in ((self.bids, -1), (self.asks, 1)):
            if not (len(side.keys) == len(side.by_price)):
                raise InvariantViolation(f"{self.symbol}: keys and levels differ")
            if sorted(side.by_price) != sorted(sign * key for key in side.keys):
                raise InvariantViolation(f"{self.symbol}: sorted keys do not match the levels")
            if side.keys:
                if side.best is not side.by_price[sign * side.keys[0]]:
                    raise InvariantViolation("stale best level")
            else:
                if side.best is not None:
                    raise InvariantViolation("best level cached on an empty side")
            for price, level in side.by_price.items():
                live = list(level.live_orders())
                if not live:
                    raise InvariantViolation(
                        f"{self.symbol}: empty level {level.price} left behind")
                if price != level.price:
                    raise InvariantViolation(f"level {level.price} is filed under {price}")
                if not (level.count == len(live)):
                    raise InvariantViolation(f"level {level.price}: count {level.count}")
                if not (len(level.orders) <= 2 * level.count + COMPACT_SLACK):
                    raise InvariantViolation(
                        f"level {level.price}: {len(level.orders)} entries for {level.count} live")
                if not (level.qty == sum(o.remaining for o in live)):
                    raise InvariantViolation(f"level {level.price}: qty")
                for order in live:
                    if not (order.price == level.price and order.is_buy == (sign == -1)):
                        raise InvariantViolation(f"{order!r} is in the wrong level or side")
                    if not (0 < order.remaining <= order.qty):
                        raise InvariantViolation(f"{order!r}: bad remaining")
                    if self.orders.get(order.order_id) is not order:
                        raise InvariantViolation(f"{order!r} not indexed")
                    seen += 1
        if not (seen == len(self.orders)):
            raise InvariantViolation(f"{self.symbol}: index holds orders not in a level")
