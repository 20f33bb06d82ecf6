"""Running totals of an account's resting orders per symbol, for pre-trade risk without
re-reading the account's orders (DESIGN.md §3.1).

Per (account, symbol) and side, two price ladders of resting lots: the *plain* orders (not
reduce-only: they reserve order margin) and the *reducing* ones (reduce-only). Any of them can
close the position, so both carry the closing loss; an order moves one ladder, and the two are
merged only for the closing loss of a side that holds both kinds (reduce-only orders are
rare). Each ladder keeps its levels ranked best first plus its total lots and value, so:

- the order margin of a side (``margin.order_initial_margin`` exactly) costs O(1) when nothing
  on it closes the position, else O(levels that close it); plus O(levels priced through the
  mark), which a resting order rarely is;
- the closing loss (``margin.closing_loss`` exactly) walks only the closing levels priced
  through the mark;
- the tier check reads a side's total lots and its highest price in O(1).

The totals follow the orders through ``refresh``: the exchange calls it whenever an order
enters or leaves a book or its remaining quantity changes (rest, fill, shrink, amend), and
``Account.remove_order`` drops what a finished order held. ``order_initial_margin`` and
``closing_loss`` over the orders themselves stay the oracle (``check_reserve``).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from operator import mul, neg
from typing import TYPE_CHECKING

from engine.errors import InvariantViolation
from engine.units import ceil_div

if TYPE_CHECKING:
    from engine.account import Account
    from engine.book import Order
    from engine.instrument import Instrument


class Ladder:
    """Resting lots of one side by price, ranked best first, with their totals."""

    __slots__ = ("is_buy", "lots", "keys", "total", "value")

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.lots: dict[int, int] = {}
        self.keys: list[int] = []
        """Negated prices for buys, prices for sells, sorted: index 0 is the best on both sides.
        A plain list: one account's levels on one side are few, and bisect on a list beats a
        SortedList's bookkeeping there (5,000 levels still move in microseconds)."""
        self.total = 0
        """Lots over every level."""
        self.value = 0
        """Sum of lots x price (ticks) over every level."""

    def add(self, price: int, lots: int) -> None:
        """Add ``lots`` (negative: take them off) at ``price``. O(1), O(log L) when a level
        appears or empties."""
        if lots == 0:
            return
        held = self.lots.get(price, 0) + lots
        if held < 0:
            raise InvariantViolation(f"reserve: {held} lots at {price}")
        if held:
            if price not in self.lots:
                insort(self.keys, -price if self.is_buy else price)
            self.lots[price] = held
        else:
            del self.lots[price]
            keys = self.keys
            del keys[bisect_left(keys, -price if self.is_buy else price)]
        self.total += lots
        self.value += lots * price

    @classmethod
    def of(cls, is_buy: bool, lots: dict[int, int]) -> Ladder:
        """A ladder holding ``lots`` (price -> lots, every one above zero), taken as is: built
        in one pass where most of a side changes at once (a ladder replace)."""
        ladder = object.__new__(cls)  # no __init__: its dict and list would be replaced
        ladder.is_buy = is_buy
        ladder.lots = lots
        ladder.keys = sorted(map(neg, lots)) if is_buy else sorted(lots)
        ladder.total = sum(lots.values())
        ladder.value = sum(map(mul, lots, lots.values()))
        return ladder

    def best_first(self) -> Iterator[tuple[int, int]]:
        """(price, lots) of each level, best first."""
        lots = self.lots
        if self.is_buy:
            return ((-key, lots[-key]) for key in self.keys)
        return ((key, lots[key]) for key in self.keys)

    def merged(self, other: Ladder) -> Ladder:
        """A new ladder of this side holding the lots of both (for a closing loss)."""
        both = Ladder(self.is_buy)
        lots = dict(self.lots)
        for price, held in other.lots.items():
            lots[price] = lots.get(price, 0) + held
        both.lots = lots
        both.keys = sorted(-price if self.is_buy else price for price in lots)
        both.total = self.total + other.total
        both.value = self.value + other.value
        return both

    def highest(self) -> int | None:
        keys = self.keys
        if not keys:
            return None
        return -keys[0] if self.is_buy else keys[-1]

    def opening_reserve(self, to_close: int, mark: int, per_lot: int, leverage: int) -> int:
        """``order_initial_margin`` of this side: its best ``to_close`` lots close the
        position; the rest open at ``price / leverage`` plus their loss through the mark."""
        value, loss = self.opening_parts(to_close, mark)
        return ceil_div(value * per_lot, leverage) + loss * per_lot

    def opening_parts(self, to_close: int, mark: int) -> tuple[int, int]:
        """(value, loss through the mark) in tick-lots of the lots that would open, once the
        best ``to_close`` lots have closed the position (``opening_reserve``'s two sums)."""
        if to_close >= self.total:
            return 0, 0  # all of it closes (or nothing rests)
        is_buy, keys = self.is_buy, self.keys
        if to_close == 0 and keys[0] >= (-mark if is_buy else mark):
            return self.value, 0  # nothing closes and the best level is not through the mark
        sign = 1 if is_buy else -1
        held = self.lots
        value, loss = self.value, 0
        for key in keys:  # best_first, inlined: this runs on most closing orders
            price = -key if is_buy else key
            lots = held[price]
            through = sign * (price - mark)
            if to_close:
                closing = min(lots, to_close)
                to_close -= closing
                value -= closing * price
                lots -= closing
            elif through <= 0:
                break  # every worse level is on the mark's side too: no more loss
            if lots and through > 0:
                loss += lots * through
        return value, loss

    def closing_loss(self, to_close: int, mark: int) -> int:
        """Loss in tick-lots against the mark of the best ``to_close`` lots (``closing_loss``)."""
        keys, is_buy = self.keys, self.is_buy
        if not keys or to_close == 0 or keys[0] >= (-mark if is_buy else mark):
            return 0  # the best level (and so every level) is not through the mark
        sign = 1 if is_buy else -1
        held = self.lots
        loss = 0
        for key in keys:  # best_first, inlined
            price = -key if is_buy else key
            lots = held[price]
            if to_close == 0:
                break
            through = sign * (price - mark)
            if through <= 0:
                break
            closing = min(lots, to_close)
            to_close -= closing
            loss += closing * through
        return loss


def plain_margin(plain: tuple[Ladder, Ladder], instrument: Instrument, position_qty: int,
                 mark: int, leverage: int) -> int:
    """``order_initial_margin`` of the plain ladders ``plain`` (indexed by is_buy): the
    larger side's opening reserve, since both sides cannot fill into one position."""
    per_lot = instrument.cash_per_tick_lot
    return max(plain[True].opening_reserve(max(0, -position_qty), mark, per_lot, leverage),
               plain[False].opening_reserve(max(0, position_qty), mark, per_lot, leverage))


def lone_order_margin(per_lot: int, position_qty: int, mark: int, leverage: int, is_buy: bool,
                      price: int, lots: int) -> int:
    """The order margin of ``lots`` at ``price`` as the only order of its side: what the
    position does not absorb opens, at ``price / leverage`` plus its loss through the mark."""
    opening = max(0, lots - (max(0, -position_qty) if is_buy else max(0, position_qty)))
    margin = ceil_div(opening * price * per_lot, leverage)
    through = price - mark if is_buy else mark - price
    if through > 0:
        margin += opening * through * per_lot
    return margin


class SymbolReserve:
    """The running totals of one account's resting orders on one symbol."""

    __slots__ = ("held", "plain", "reducing")

    def __init__(self) -> None:
        self.held: dict[int, tuple[bool, int, int, bool]] = {}
        """What each counted order holds: (is_buy, price, remaining, reduce_only) by id."""
        self.plain = (Ladder(False), Ladder(True))
        """Not reduce-only orders, indexed by is_buy: they reserve order margin."""
        self.reducing = (Ladder(False), Ladder(True))
        """Reduce-only orders, indexed by is_buy: with the plain ones, they can close the
        position (``closing_loss``)."""

    def __bool__(self) -> bool:
        return bool(self.held)

    def _apply(self, shape: tuple[bool, int, int, bool], sign: int) -> None:
        is_buy, price, lots, reduce_only = shape
        (self.reducing if reduce_only else self.plain)[is_buy].add(price, sign * lots)

    def refresh(self, order: Order) -> None:
        """Count ``order`` as it is now: its remaining lots while it rests, nothing once it
        has left the book."""
        order_id = order.order_id
        old = self.held.get(order_id)
        new = ((order.is_buy, order.price, order.qty - order.filled, order.reduce_only)
               if order.live and order.price is not None and not order.type.is_conditional
               else None)
        if old == new:
            return
        if old is not None:
            if new is not None and old[1] == new[1] and old[0] == new[0] and old[3] == new[3]:
                # the same order at the same price with fewer (or more) lots left: one move
                # of the difference (a fill, a shrink), not a level taken out and put back
                is_buy, price, _, reduce_only = new
                change = new[2] - old[2]
                (self.reducing if reduce_only else self.plain)[is_buy].add(price, change)
                self.held[order_id] = new
                return
            self._apply(old, -1)
            del self.held[order_id]
        if new is not None:  # (_apply inlined for an order that starts resting)
            is_buy, price, lots, reduce_only = new
            (self.reducing if reduce_only else self.plain)[is_buy].add(price, lots)
            self.held[order_id] = new  # type: ignore[assignment]

    def replace_quotes(self, gone: Iterable[int], quotes: Iterable[Order],
                       plain: tuple[Ladder, Ladder]) -> None:
        """What a ladder replace leaves: ``gone`` (its cancelled quotes) no longer counted,
        ``quotes`` (shrunk or new, plain and resting) counted as they are now, and ``plain``,
        the plain ladders as the replace leaves them (its margin check built them from the
        same orders), in place of the old ones. A shrunk quote keeps its place in ``held``, as
        ``refresh`` would keep it; the totals end exactly as after a ``drop`` of each of
        ``gone`` and a ``refresh`` of each of ``quotes``."""
        held = self.held
        for order_id in gone:
            del held[order_id]
        for order in quotes:
            held[order.order_id] = (order.is_buy, order.price, order.qty - order.filled, False)
        self.plain = plain

    def drop(self, order_id: int) -> None:
        old = self.held.pop(order_id, None)
        if old is not None:  # (_apply inlined: every order that leaves a book comes here)
            is_buy, price, lots, reduce_only = old
            (self.reducing if reduce_only else self.plain)[is_buy].add(price, -lots)

    def order_margin(self, instrument: Instrument, position_qty: int, mark: int,
                     leverage: int) -> int:
        """``order_initial_margin`` of the plain orders."""
        return plain_margin(self.plain, instrument, position_qty, mark, leverage)

    def order_cost(self, instrument: Instrument, position_qty: int, mark: int, leverage: int,
                   is_buy: bool, price: int, lots: int) -> tuple[int, int]:
        """(order margin now, order margin with ``lots`` more at ``price`` on one side):
        ``order_margin`` without and with that change, in one pass over each side. A new
        order on a side where nothing rests, or one that opens (nothing of its side closes
        the position) at a price not through the mark, costs O(1); any other order is the
        what-if of ``order_margin``."""
        plain = self.plain
        per_lot = instrument.cash_per_tick_lot
        side, other_side = plain[is_buy], plain[not is_buy]
        if is_buy:
            side_close, other_close = max(0, -position_qty), max(0, position_qty)
        else:
            side_close, other_close = max(0, position_qty), max(0, -position_qty)
        other = (other_side.opening_reserve(other_close, mark, per_lot, leverage)
                 if other_side.total else 0)
        if not side.total:
            # nothing rests on this side (an IOC taker's usual case): the order is its only level
            after = lone_order_margin(per_lot, position_qty, mark, leverage, is_buy, price, lots)
            return max(0, other), max(after, other)
        value, loss = side.opening_parts(side_close, mark)
        before = max(ceil_div(value * per_lot, leverage) + loss * per_lot, other)
        if side_close == 0 and (price <= mark if is_buy else price >= mark):
            after = ceil_div((value + lots * price) * per_lot, leverage) + loss * per_lot
        else:
            side.add(price, lots)
            try:
                after = side.opening_reserve(side_close, mark, per_lot, leverage)
            finally:
                side.add(price, -lots)
        return before, max(after, other)

    def closing_loss(self, instrument: Instrument, position_qty: int, mark: int) -> int:
        """``margin.closing_loss``: what the orders closing the position lose against the mark."""
        if position_qty == 0:
            return 0
        is_buy = position_qty < 0
        ladder, reducing = self.plain[is_buy], self.reducing[is_buy]
        if reducing.total:
            ladder = ladder.merged(reducing) if ladder.total else reducing
        return ladder.closing_loss(abs(position_qty), mark) * instrument.cash_per_tick_lot

    def exposure(self, is_buy: bool) -> tuple[int, int | None]:
        """(lots, highest price) of the plain orders of one side: the tier check's reach."""
        ladder = self.plain[is_buy]
        return ladder.total, ladder.highest()


EMPTY = SymbolReserve()
"""What an account with no resting order on a symbol holds (never written)."""


def check_reserve(account: Account, instruments: Mapping[str, Instrument],
                  marks: Mapping[str, int | None]) -> None:
    """Raise InvariantViolation unless the running totals agree with the orders themselves:
    the orders counted, the order margin and closing loss at the given marks (recomputed by
    ``margin.order_initial_margin`` and ``margin.closing_loss``), and the tier reach."""
    from engine.margin import closing_loss, order_initial_margin, resting_shapes

    counted = {(symbol, order_id) for symbol, reserve in account.reserves.items()
               for order_id in reserve.held}
    resting = {(o.symbol, o.order_id) for o in account.orders.values()
               if o.live and o.price is not None and not o.type.is_conditional}
    if counted != resting:
        raise InvariantViolation(f"{account.id}: the reserve counts {sorted(counted ^ resting)}"
                                 " wrongly")
    for symbol, reserve in account.reserves.items():
        for order_id, shape in reserve.held.items():
            order = account.orders[order_id]
            if shape != (order.is_buy, order.price, order.remaining, order.reduce_only):
                raise InvariantViolation(f"{account.id}: the reserve holds {shape} for {order!r}")
        for reducing, ladders in ((False, reserve.plain), (True, reserve.reducing)):
            for ladder in ladders:
                lots: dict[int, int] = {}
                for is_buy, price, left, reduce_only in reserve.held.values():
                    if is_buy == ladder.is_buy and reduce_only == reducing:
                        lots[price] = lots.get(price, 0) + left
                if (ladder.lots != lots or ladder.total != sum(lots.values())
                        or ladder.value != sum(p * q for p, q in lots.items())
                        or list(ladder.best_first()) != sorted(lots.items(),
                                                               reverse=ladder.is_buy)):
                    raise InvariantViolation(f"{account.id} {symbol}: a reserve ladder is not "
                                             "the sum of the orders it holds")
        mark = marks.get(symbol)
        if mark is None:
            continue
        instrument = instruments[symbol]
        leverage = account.leverage.get(symbol, instrument.default_leverage)
        qty = account.position_qty(symbol)
        shapes = resting_shapes(account, symbol)
        naive = order_initial_margin(instrument, shapes, qty, mark, leverage)
        fast = reserve.order_margin(instrument, qty, mark, leverage)
        if fast != naive:
            raise InvariantViolation(f"{account.id} {symbol}: order margin {fast} kept, "
                                     f"{naive} recomputed")
        naive = closing_loss(instrument, account, symbol, qty, mark)
        fast = reserve.closing_loss(instrument, qty, mark)
        if fast != naive:
            raise InvariantViolation(f"{account.id} {symbol}: closing loss {fast} kept, "
                                     f"{naive} recomputed")
        for is_buy in (True, False):
            prices = [p for b, p, _ in shapes if b == is_buy]
            naive_reach = (sum(q for b, _, q in shapes if b == is_buy),
                           max(prices) if prices else None)
            if reserve.exposure(is_buy) != naive_reach:
                raise InvariantViolation(f"{account.id} {symbol}: tier reach "
                                         f"{reserve.exposure(is_buy)} kept, {naive_reach} "
                                         "recomputed")
