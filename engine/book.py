"""The order book of one symbol: structure only, no accounts, no matching rules.

Each side is a ``SortedDict`` from a price key to a ``Level``. Asks are keyed by price and bids
by the negated price, so index 0 is the best level on both sides and a walk from the top is the
same loop for either side. Inside a level, orders queue in a ``deque`` (time priority).
Cancelling from the middle of a deque would be O(n), so a cancelled order is only marked dead
and the level's totals are corrected at once; the dead entry is dropped when it reaches the
front (lazy deletion). Totals are therefore always exact, whatever the deque still holds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from sortedcontainers import SortedDict

from engine.enums import OrderType, Side, StpMode, TimeInForce, TriggerBy


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


class OrderBook:
    """Resting limit orders of one symbol in price-time priority."""

    __slots__ = ("symbol", "bids", "asks", "orders", "_bid_keys", "_ask_keys", "_queued")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()
        """-price -> Level, so the best (highest) bid is at index 0."""
        self.asks: SortedDict = SortedDict()
        """price -> Level, best (lowest) ask at index 0."""
        self.orders: dict[int, Order] = {}
        # cached key views: reading index 0 through them is the cheapest best-price lookup
        self._bid_keys = self.bids.keys()
        self._ask_keys = self.asks.keys()
        self._queued = 0

    # -- queries --

    def best_bid(self) -> int | None:
        return -self._bid_keys[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self._ask_keys[0] if self.asks else None

    def best_level(self, side: Side) -> Level | None:
        """The best level of ``side`` (the side a taker of the other side trades against)."""
        levels = self.bids if side is Side.BUY else self.asks
        return levels.peekitem(0)[1] if levels else None

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of one side, best first."""
        return iter((self.bids if side is Side.BUY else self.asks).values())

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
            return bool(self.asks) and self._ask_keys[0] <= price
        return bool(self.bids) and -self._bid_keys[0] >= price

    # -- commands --

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level. O(log L) for L levels.

        An order object that has left the book is never added again: its dead entry may still
        sit in a deque, and reviving it would make it live there too.
        """
        assert order.price is not None and not order.live and order.order_id not in self.orders
        levels, key = (self.bids, -order.price) if order.is_buy else (self.asks, order.price)
        level = levels.get(key)
        if level is None:
            level = levels[key] = Level(order.price)
        level.orders.append(order)
        level.qty += order.remaining
        level.count += 1
        self._queued += 1
        order.queued = self._queued
        order.live = True
        self.orders[order.order_id] = order

    def remove(self, order: Order) -> None:
        """Take ``order`` out of the book (cancelled or fully filled). O(log L)."""
        assert order.price is not None
        levels, key = (self.bids, -order.price) if order.is_buy else (self.asks, order.price)
        level = levels[key]
        level.qty -= order.remaining
        level.count -= 1
        order.live = False
        del self.orders[order.order_id]
        if level.count == 0:
            del levels[key]

    def reduce(self, order: Order, qty: int, *, filled: bool) -> None:
        """Shrink a resting order in place, keeping its queue priority. Removes it at zero.

        Args:
            qty: lots to take off the remaining quantity.
            filled: True when the lots traded (they count as filled), False for an amend.
        """
        assert order.price is not None
        levels = self.bids if order.is_buy else self.asks
        level = levels[-order.price if order.is_buy else order.price]
        if qty == order.remaining:
            self.remove(order)
        else:
            level.qty -= qty
        if filled:
            order.filled += qty
        else:
            order.qty -= qty

    def check_invariants(self) -> None:
        """Raise AssertionError if the structure is inconsistent."""
        best_bid, best_ask = self.best_bid(), self.best_ask()
        assert best_bid is None or best_ask is None or best_bid < best_ask, (
            f"{self.symbol}: book crossed, bid {best_bid} >= ask {best_ask}")
        seen = 0
        for levels, sign in ((self.bids, -1), (self.asks, 1)):
            for key, level in levels.items():
                live = list(level.live_orders())
                assert live, f"{self.symbol}: empty level {level.price} left behind"
                assert key == sign * level.price
                assert level.count == len(live), f"level {level.price}: count {level.count}"
                assert level.qty == sum(o.remaining for o in live), f"level {level.price}: qty"
                for order in live:
                    assert order.price == level.price and order.is_buy == (sign == -1)
                    assert 0 < order.remaining <= order.qty, f"{order!r}: bad remaining"
                    assert self.orders.get(order.order_id) is order, f"{order!r} not indexed"
                    seen += 1
        assert seen == len(self.orders), f"{self.symbol}: index holds orders not in a level"
