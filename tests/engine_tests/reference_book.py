"""A tiny, obviously correct matcher: the reference the real engine is compared with.

Exchange-core's Naive-versus-Direct pattern, scaled down (STYLE.md B9). One symbol; resting
orders in a plain list; "who trades next?" is a linear scan for the best price, then the
earliest queue time. Clarity over speed: what a fill-or-kill or market order could fill is
learnt by matching it on a deep copy of everything.

Units are the engine's (ticks, lots). A command returns its events as tuples, in order:
("accepted", order_id), ("rejected", reason), ("trade", taker_id, maker_id, price, qty),
("cancelled", order_id, reason, remaining), ("amended", order_id, qty, remaining, price, reason).

Rules (DESIGN.md §3, engine/exchange.py): price band around the mark; limit GTC / IOC / FOK,
market, post-only; self-trade prevention by the taker's mode; amend (a size decrease at the
same price keeps the queue place, anything else goes to the back and may trade); cancel;
signed positions; reduce-only orders, clamped to the position on entry, and resting ones
shrunk or cancelled in priority order so that together they never exceed the position.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction

Event = tuple


@dataclass
class Order:
    oid: int
    account: str
    is_buy: bool
    qty: int  # total quantity, filled part included
    price: int | None  # None for a market order
    tif: str = "gtc"
    post_only: bool = False
    reduce_only: bool = False
    stp: str = "expire_maker"
    filled: int = 0
    time: int = 0  # queue time: at one price, the lowest time trades first

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


def priority(order: Order) -> tuple[int, int]:
    """Sort key of one side of the book: best price first, then time."""
    return (-order.price if order.is_buy else order.price, order.time)


def amended(order: Order, reason: str) -> Event:
    return ("amended", order.oid, order.qty, order.remaining, order.price, reason)


def crosses(is_buy: bool, limit: int, price: int) -> bool:
    """Would a taker with this ``limit`` accept a resting ``price``?"""
    return price <= limit if is_buy else price >= limit


class ReferenceBook:
    def __init__(self, mark: int, band: Fraction) -> None:
        self.mark = mark
        self.band = band
        self.resting: list[Order] = []
        self.positions: dict[str, int] = {}
        self.next_id, self.clock = 1, 0  # next order id; queue time of the last order rested
        self.events: list[Event] = []

    def band_limit(self, is_buy: bool) -> int:
        """The furthest price a buy (sell) may rest or trade at: mark x (1 ± band), inward."""
        if is_buy:
            return math.floor(self.mark * (1 + self.band))
        return math.ceil(self.mark * (1 - self.band))

    def position(self, account: str) -> int:
        return self.positions.get(account, 0)

    def best(self, is_buy: bool) -> Order | None:
        """The resting order with priority on one side (is_buy: the bids)."""
        side = [o for o in self.resting if o.is_buy == is_buy]
        return min(side, key=priority, default=None)

    def queue(self, is_buy: bool) -> list[tuple[int, int, int]]:
        """One side as (price, order_id, remaining), in priority order."""
        side = sorted((o for o in self.resting if o.is_buy == is_buy), key=priority)
        return [(o.price, o.oid, o.remaining) for o in side]

    def levels(self, is_buy: bool) -> list[tuple[int, int]]:
        """L2: (price, total remaining) per price, best first."""
        totals: dict[int, int] = {}
        for price, _, remaining in self.queue(is_buy):
            totals[price] = totals.get(price, 0) + remaining
        return list(totals.items())

    def order(self, account: str, oid: int) -> Order | None:
        return next((o for o in self.resting if o.oid == oid and o.account == account), None)

    # -- commands: each returns the events it caused; the internals follow --

    def set_mark(self, mark: int) -> list[Event]:
        self.mark = mark  # resting orders outside the new band stay
        return []

    def place(self, account: str, is_buy: bool, qty: int, price: int | None, tif: str = "gtc",
              post_only: bool = False, reduce_only: bool = False,
              stp: str = "expire_maker") -> list[Event]:
        self.events = []
        order = Order(0, account, is_buy, qty, price, tif, post_only, reduce_only, stp)
        position = self.position(account)
        if post_only and (price is None or tif != "gtc"):
            return [("rejected", "invalid_order")]
        if reduce_only and (position == 0 or (position > 0) == is_buy):
            return [("rejected", "reduce_only_would_increase")]
        reason = self._entry_refusal(order)
        if reason is not None:
            return [("rejected", reason)]
        want = min(qty, abs(position)) if reduce_only else qty
        if price is None or tif == "fok":  # what it could fill: match it on a copy of all
            trial = copy.copy(order)
            copy.deepcopy(self)._execute(trial)
            could = trial.filled
            if tif == "fok" and could < want:
                return [("rejected", "fok_not_filled")]
            if price is None and could == 0:
                best = self.best(not is_buy)
                if best is not None and not crosses(is_buy, self.band_limit(is_buy), best.price):
                    return [("rejected", "price_out_of_band")]
                return [("rejected", "no_liquidity")]
        order.oid, self.next_id = self.next_id, self.next_id + 1
        self.events.append(("accepted", order.oid))
        self._execute(order)
        return self.events

    def cancel(self, account: str, oid: int) -> list[Event]:
        self.events = []
        order = self.order(account, oid)
        if order is None:
            return [("rejected", "unknown_order")]
        self._cancel(order, "user")
        return self.events

    def amend(self, account: str, oid: int, qty: int | None = None,
              price: int | None = None) -> list[Event]:
        """``qty`` is the new total quantity, filled part included."""
        self.events = []
        order = self.order(account, oid)
        if order is None:
            return [("rejected", "unknown_order")]
        if qty is None and price is None:
            return [("rejected", "invalid_order")]
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if new_qty <= order.filled:
            return [("rejected", "invalid_qty")]
        if new_price == order.price and new_qty <= order.qty:  # keeps its queue place
            order.qty = new_qty
            return [amended(order, "user")]
        candidate = copy.copy(order)
        candidate.qty, candidate.price = new_qty, new_price
        reason = self._entry_refusal(candidate)
        if reason is not None:
            return [("rejected", reason)]
        self.resting.remove(order)
        order.qty, order.price = new_qty, new_price
        self.events.append(amended(order, "user"))
        self._execute(order)  # to the back of the queue, or a taker if it now crosses
        return self.events

    def _entry_refusal(self, order: Order) -> str | None:
        """Band and post-only: what a limit price must pass to enter the book."""
        if order.price is None:
            return None
        if not crosses(order.is_buy, self.band_limit(order.is_buy), order.price):
            return "price_out_of_band"
        best = self.best(not order.is_buy)
        if order.post_only and best and crosses(order.is_buy, order.price, best.price):
            return "post_only_would_take"
        return None

    def _execute(self, taker: Order) -> None:
        """Clamp a reduce-only taker, match it, then rest or cancel the remainder."""
        room = abs(self.position(taker.account))  # > 0 for a reduce-only order here
        if taker.reduce_only and taker.remaining > room:
            taker.qty -= taker.remaining - room
            self.events.append(amended(taker, "reduce_only"))
        expired = self._match(taker)
        if taker.remaining == 0:
            return
        if expired:
            reason = "stp"
        elif taker.price is None:
            reason = "no_liquidity" if self.best(not taker.is_buy) is None else "band"
        elif taker.tif == "gtc":
            self.clock += 1
            taker.time = self.clock
            self.resting.append(taker)
            self._fit_reduce_only(taker.account)
            return
        else:
            reason = "ioc_remainder" if taker.tif == "ioc" else "fok_not_filled"
        self.events.append(("cancelled", taker.oid, reason, taker.remaining))

    def _match(self, taker: Order) -> bool:
        """Trade ``taker`` until filled or nothing crosses. True if STP expired the taker."""
        limit = taker.price if taker.price is not None else self.band_limit(taker.is_buy)
        while taker.remaining > 0:
            maker = self.best(not taker.is_buy)
            if maker is None or not crosses(taker.is_buy, limit, maker.price):
                return False
            if maker.account == taker.account:  # self-trade prevention: the taker's mode
                if taker.stp in ("expire_maker", "expire_both"):
                    self._cancel(maker, "stp")
                if taker.stp in ("expire_taker", "expire_both"):
                    return True
                continue
            qty = min(taker.remaining, maker.remaining)
            taker.filled += qty
            maker.filled += qty
            sign = 1 if taker.is_buy else -1
            self.positions[taker.account] = self.position(taker.account) + sign * qty
            self.positions[maker.account] = self.position(maker.account) - sign * qty
            self.events.append(("trade", taker.oid, maker.oid, maker.price, qty))
            if maker.remaining == 0:
                self.resting.remove(maker)
            self._fit_reduce_only(maker.account)
            self._fit_reduce_only(taker.account)
        return False

    def _cancel(self, order: Order, reason: str) -> None:
        self.resting.remove(order)
        self.events.append(("cancelled", order.oid, reason, order.remaining))

    def _fit_reduce_only(self, account: str) -> None:
        """In priority order, resting reduce-only orders keep their size while they fit in the
        position; then one is shrunk, the rest (and any on the wrong side) cancelled."""
        position = self.position(account)
        room = abs(position)
        mine = [o for o in self.resting if o.account == account and o.reduce_only]
        for order in sorted(mine, key=priority):
            if position == 0 or order.is_buy == (position > 0) or room == 0:
                self._cancel(order, "reduce_only")
            elif order.remaining > room:
                order.qty -= order.remaining - room
                room = 0
                self.events.append(amended(order, "reduce_only"))
            else:
                room -= order.remaining
