"""Price-time matching of one taker order against one book.

Matching decides *what* trades; it knows no accounts, margin or events. The effects of a fill
or of a self-trade cancellation are callables handed in by the exchange (as nautilus_trader's
``MatchingCore`` takes its ``fill_*`` callables), which keeps this loop short and testable
against the reference matcher in tests/engine_tests/reference_book.py.

Self-trade prevention follows Binance: the taker's mode decides, a resting order's mode is
ignored, and an STP cancellation is not a trade (no fill, no fee, no last price).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.book import Order, OrderBook
from engine.enums import StpMode

_EXPIRE_TAKER, _EXPIRE_MAKER = StpMode.EXPIRE_TAKER, StpMode.EXPIRE_MAKER

OnFill = Callable[[Order, int, int], None]
"""on_fill(maker, price_ticks, qty_lots), called after the book has been updated."""
OnStp = Callable[[Order], None]
"""on_stp(maker), called after a resting order was taken out of the book by STP."""


def crosses(is_buy: bool, limit: int, price: int) -> bool:
    """Is a resting ``price`` acceptable to a taker with this ``limit``?"""
    return price <= limit if is_buy else price >= limit


def match(book: OrderBook, taker: Order, limit: int, on_fill: OnFill, on_stp: OnStp) -> bool:
    """Trade ``taker`` against the book up to ``limit`` (ticks) until it is filled.

    The taker's ``filled`` grows with every fill; it never rests here.
    O(k) for k fills, plus O(log L) for each of the L price levels it empties.

    Returns:
        True when self-trade prevention expired the taker (expire_taker / expire_both).
    """
    is_buy = taker.is_buy
    side = book.asks if is_buy else book.bids
    index = book.orders
    account, stp = taker.account, taker.stp
    while True:
        # re-read each round: on_fill may refit orders (the taker's size included) and move
        # the best level
        want = taker.qty - taker.filled
        if want <= 0:
            break
        level = side.best
        if level is None:
            break
        price = level.price
        if price > limit if is_buy else price < limit:
            break
        queue = level.orders
        maker = queue[0]
        while not maker.live:  # a cancelled entry, dropped lazily
            queue.popleft()
            maker = queue[0]
        if maker.account == account:
            if stp is not _EXPIRE_TAKER:
                book.remove(maker)
                on_stp(maker)
            if stp is not _EXPIRE_MAKER:
                return True
            continue
        qty = maker.qty - maker.filled
        if want < qty:
            qty = want
            level.qty -= qty
            maker.filled += qty
        else:  # the maker leaves the book: book.remove, inlined for the front of the queue
            queue.popleft()
            level.qty -= qty
            maker.live = False
            del index[maker.order_id]
            maker.filled += qty
            level.count -= 1
            if not level.count:
                side.vacate(level)
        taker.filled += qty
        on_fill(maker, price, qty)
    return False


def fillable(book: OrderBook, is_buy: bool, limit: int, qty: int, account: str,
             stp: StpMode, position_size: Callable[[str], int]) -> tuple[int, int | None]:
    """Dry run of ``match``: how much a taker could fill now, and at what worst price.

    Changes nothing. Used for fill-or-kill and for the margin of a market order. A maker's
    resting reduce-only orders shrink as its earlier fills in the same sweep reduce its
    position (the exchange refits them after every fill), so they count only up to what is
    left of ``position_size(maker account)``. O(n) in the orders walked.

    Returns:
        (fillable lots, worst price in ticks or None when nothing fills).
    """
    levels = book.asks if is_buy else book.bids
    fillable, worst = 0, None
    closed: dict[str, int] = {}
    for level in levels:
        price = level.price
        if fillable >= qty or (price > limit if is_buy else price < limit):  # not crosses()
            break
        for maker in level.orders:
            if not maker.live:  # level.live_orders(), inlined: this runs on every market order
                continue
            if maker.account == account:
                if stp is _EXPIRE_MAKER:
                    continue
                return min(fillable, qty), worst
            size = maker.qty - maker.filled
            if maker.reduce_only:
                size = min(size, max(0, position_size(maker.account)
                                     - closed.get(maker.account, 0)))
            if size == 0:
                continue
            size = min(size, qty - fillable)
            closed[maker.account] = closed.get(maker.account, 0) + size
            fillable += size
            worst = price
            if fillable >= qty:
                return fillable, worst  # before the walk looks for the next level
    return min(fillable, qty), worst
