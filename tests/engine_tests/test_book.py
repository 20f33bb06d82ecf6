"""The book's structure: compaction of dead entries, and book+matching against the floor
matcher of bench/compare.py on seeded random streams."""

from __future__ import annotations

import pytest

from bench.compare import run_floor, run_perpsim, workload_b, workload_c
from engine.book import COMPACT_SLACK, Order, OrderBook
from engine.enums import OrderType, Side


def order(oid: int, price: int, side: Side = Side.SELL) -> Order:
    return Order(order_id=oid, account=f"a{oid}", symbol="X", side=side, type=OrderType.LIMIT,
                 qty=1, price=price)


def test_cancelled_orders_do_not_pile_up_behind_a_live_one():
    book = OrderBook("X")
    book.add(order(0, 100))
    level = book.best_level(Side.SELL)
    longest = 0
    for oid in range(1, 20_001):
        placed = order(oid, 100)
        book.add(placed)
        book.remove(placed)
        longest = max(longest, len(level.orders))
    assert longest <= 2 + 2 * 1 + COMPACT_SLACK
    assert level.count == 1 and level.front().order_id == 0
    book.check_invariants()


def test_best_levels_follow_adds_and_removes():
    book = OrderBook("X")
    orders = [order(i, 100 + i) for i in range(5)]
    for o in orders:
        book.add(o)
    assert book.best_ask() == 100
    book.remove(orders[0])
    assert book.best_ask() == 101
    assert [lv.price for lv in book.levels(Side.SELL)] == [101, 102, 103, 104]
    assert book.depth(Side.SELL, 2) == [(101, 1), (102, 1)]
    book.check_invariants()


@pytest.mark.parametrize("seed", range(5))
def test_book_and_matching_agree_with_the_floor(seed):
    for workload in (workload_b(5_000, seed), workload_c(2_000, seed)):
        assert run_perpsim(workload) == run_floor(workload)
