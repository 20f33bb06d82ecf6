"""The trigger book against the naive scan it replaced: the oldest order whose trigger the mark
or the last price reaches, whatever else waits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.book import Order
from engine.enums import OrderType, Side, TriggerBy
from engine.errors import InvariantViolation
from engine.triggers import TriggerBook, is_triggered

KINDS = [OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_MARKET,
         OrderType.TAKE_PROFIT_LIMIT]


def conditional(order_id: int, side: Side, kind: OrderType, trigger: int,
                source: TriggerBy) -> Order:
    return Order(order_id=order_id, account="a", symbol="X", side=side, type=kind, qty=1,
                 price=trigger if kind.has_limit_price else None, trigger_price=trigger,
                 trigger_by=source)


def naive_next_fired(orders: dict[int, Order], mark: int | None,
                     last: int | None) -> Order | None:
    for order in orders.values():  # in id order: the first that fires is the oldest
        price = mark if order.trigger_by is TriggerBy.MARK else last
        if price is not None and is_triggered(order, price):
            return order
    return None


orders_strategy = st.lists(st.tuples(st.sampled_from(list(Side)), st.sampled_from(KINDS),
                                     st.integers(1, 40), st.sampled_from(list(TriggerBy))),
                           max_size=40)


@given(orders_strategy, st.lists(st.integers(0, 39), max_size=20),
       st.lists(st.tuples(st.none() | st.integers(1, 40), st.none() | st.integers(1, 40)),
                min_size=1, max_size=10))
def test_the_book_fires_what_the_naive_scan_fires(specs, removals, prices):
    book, naive = TriggerBook(), {}
    for order_id, (side, kind, trigger, source) in enumerate(specs, start=1):
        order = conditional(order_id, side, kind, trigger, source)
        book[order_id] = naive[order_id] = order
    for index in removals:
        if index + 1 in naive:
            del book[index + 1]
            del naive[index + 1]
    book.check_invariants()
    assert list(book) == list(naive)
    for mark, last in prices:
        fired = book.next_fired(mark, last)
        assert fired is naive_next_fired(naive, mark, last)
        if fired is not None:  # fire it, as the exchange does, and look again
            del book[fired.order_id]
            del naive[fired.order_id]
    book.check_invariants()


def test_a_stop_out_of_reach_is_not_looked_at():
    book = TriggerBook()
    for order_id in range(1, 5001):
        book[order_id] = conditional(order_id, Side.SELL, OrderType.STOP_MARKET, 1000,
                                     TriggerBy.MARK)
    assert book.next_fired(1001, None) is None
    book[5001] = conditional(5001, Side.SELL, OrderType.STOP_MARKET, 1200, TriggerBy.MARK)
    assert book.next_fired(1100, None) is book[5001]
    assert book.next_fired(1000, None) is book[1]  # oldest first


def test_the_trigger_book_invariant_can_fire():
    book = TriggerBook()
    book[1] = order = conditional(1, Side.BUY, OrderType.STOP_MARKET, 10, TriggerBy.LAST)
    book.check_invariants()
    order.trigger_price = 11  # changed behind the book's back
    with pytest.raises(AssertionError, match="not listed under its trigger"):
        book.check_invariants()


class Untouchable(list):
    """A sorted list stand-in that fails if the trigger book searches it."""

    def bisect_left(self, key):
        raise AssertionError("searched a trigger list for a price that fires nothing")

    def islice(self, *args):
        raise AssertionError("read a trigger list for a price that fires nothing")


def test_a_price_that_fires_nothing_does_not_search_the_lists():
    """The lists' heads are kept as integers: a price between them is answered by comparing
    with the heads alone (the index tick over 5 000 resting stops of bench_entry.py)."""
    book = TriggerBook()
    for order_id, (side, trigger) in enumerate([(Side.BUY, 1200), (Side.SELL, 800)] * 50, 1):
        book[order_id] = conditional(order_id, side, OrderType.STOP_MARKET, trigger + order_id,
                                     TriggerBy.MARK)
    lists = book._rising[TriggerBy.MARK], book._falling[TriggerBy.MARK]
    book._rising[TriggerBy.MARK] = Untouchable()
    book._falling[TriggerBy.MARK] = Untouchable()
    for price in (901, 1000, 1200):  # sells wait at 802..900, buys at 1201..1299
        assert book.next_fired(price, price) is None
    book._rising[TriggerBy.MARK], book._falling[TriggerBy.MARK] = lists
    assert book.next_fired(1201, None) is book[1]  # the head: 1200 + 1
    assert book.next_fired(None, 1201) is None  # nothing waits on the last price
    assert book.next_fired(850, None) is book[50]  # a fall to 850 fires 800 + 50 first
    del book[1]
    assert book.next_fired(1201, None) is None and book.next_fired(1203, None) is book[3]
    book.check_invariants()


def test_the_cached_heads_invariant_can_fire():
    book = TriggerBook()
    book[1] = conditional(1, Side.BUY, OrderType.STOP_MARKET, 10, TriggerBy.LAST)
    book.check_invariants()
    book._reach = (book._reach[0], book._reach[1], 11, book._reach[3])
    with pytest.raises(InvariantViolation, match="cached heads are stale"):
        book.check_invariants()
