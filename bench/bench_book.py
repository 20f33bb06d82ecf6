"""Book + matching alone (no accounts) on small workloads of bench/compare.py, and the reads a
UI or the pricing makes of a deep book (top-N depth, the walk of every level)."""

from __future__ import annotations

import pytest

from bench.compare import (
    limit_owners,
    perpsim_counts,
    run_floor,
    workload_a,
    workload_b,
    workload_c,
)
from engine.book import Order, OrderBook
from engine.enums import OrderType, Side

WORKLOADS = {"A": workload_a(20_000, seed=7), "B": workload_b(20_000, seed=7),
             "C": workload_c(20_000, seed=7)}
EXPECTED = {name: run_floor(workload) for name, workload in WORKLOADS.items()}
OWNERS = {name: limit_owners(workload) for name, workload in WORKLOADS.items()}


@pytest.mark.benchmark(group="book.mixed")
def test_book_and_matching_on_mixed_operations(benchmark):
    fills, volume, _ = benchmark.pedantic(perpsim_counts, args=(WORKLOADS["B"], OWNERS["B"]),
                                          rounds=5)
    assert (fills, volume) == EXPECTED["B"]
    assert fills > 0 and volume > 0


@pytest.mark.benchmark(group="book.workloads")
@pytest.mark.parametrize("name", ["A", "C"])
def test_book_and_matching_on_resting_and_sweeping_workloads(benchmark, name):
    result = benchmark.pedantic(perpsim_counts, args=(WORKLOADS[name], OWNERS[name]), rounds=5)
    assert result[:2] == EXPECTED[name]


def deep_book(levels: int, gap: int) -> OrderBook:
    """``levels`` asks and bids, ``gap`` ticks apart, two orders each."""
    book = OrderBook("X")
    oid = 0
    for k in range(levels):
        for side, price in ((Side.SELL, 100_000 + 1 + k * gap), (Side.BUY, 100_000 - 1 - k * gap)):
            for _ in range(2):
                oid += 1
                book.add(Order(order_id=oid, account=f"a{oid}", symbol="X", side=side,
                               type=OrderType.LIMIT, qty=3, price=price))
    return book


@pytest.mark.benchmark(group="book.reads")
@pytest.mark.parametrize("gap", [1, 50, 100_000])
def test_depth_and_full_walk_of_a_2000_level_book(benchmark, gap):
    """Top-10 depth of both sides and one walk of every ask level: dense, sparse, very sparse
    ladders (the last walks by sorting the heap past the first long gap)."""
    book = deep_book(2_000, gap)

    def read():
        return (book.depth(Side.BUY, 10), book.depth(Side.SELL, 10),
                sum(level.qty for level in book.levels(Side.SELL)))

    bids, asks, total = benchmark.pedantic(read, rounds=20)
    assert len(bids) == len(asks) == 10 and total == 2_000 * 6
    assert asks[1][0] - asks[0][0] == gap
