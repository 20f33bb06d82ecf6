"""Same seeded workloads through perpsim's book+matching and a pure-Python floor matcher.

Run ``python bench/compare.py [--ops N] [--seed S]``. Each runner runs each workload in its own
process; the runners must agree on the number of fills and the traded volume, or the run
exits non-zero. Prints ops/s per runner and the ratio to the floor (DESIGN.md §10).

A runner is a function ``workload -> (fills, volume)``; add one to ``RUNNERS`` (the full
exchange path is the next one to add).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from collections import deque
from pathlib import Path

from sortedcontainers import SortedList

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LIMIT, CANCEL, MARKET = 0, 1, 2
MID = 100_000

# -- workloads: lists of (LIMIT, oid, is_buy, price, qty) | (CANCEL, oid) | (MARKET, is_buy, qty)


def workload_a(ops: int, seed: int) -> list[tuple]:
    """``ops`` resting limit orders over ~2,000 price levels (none crosses)."""
    rng = random.Random(seed)
    out = []
    for oid in range(1, ops + 1):
        is_buy = rng.random() < 0.5
        offset = rng.randint(1, 1_000)
        out.append((LIMIT, oid, is_buy, MID - offset if is_buy else MID + offset,
                    rng.randint(1, 10)))
    return out


def workload_b(ops: int, seed: int) -> list[tuple]:
    """60% limit orders (some crossing), 30% cancels, 10% market orders sweeping 1-5 levels."""
    rng = random.Random(seed)
    out: list[tuple] = []
    placed: list[int] = []
    where: dict[int, int] = {}
    oid = 0
    for i in range(200):  # a seed book
        oid += 1
        is_buy = i % 2 == 0
        out.append((LIMIT, oid, is_buy, MID - 1 - i // 2 if is_buy else MID + 1 + i // 2, 5))
        where[oid] = len(placed)
        placed.append(oid)
    while len(out) < ops:
        r = rng.random()
        if r < 0.6:
            oid += 1
            is_buy = rng.random() < 0.5
            offset = rng.randint(-3, 60)  # a negative offset crosses the spread
            out.append((LIMIT, oid, is_buy, MID - offset if is_buy else MID + offset,
                        rng.randint(1, 10)))
            where[oid] = len(placed)
            placed.append(oid)
        elif r < 0.9 and placed:
            j = rng.randrange(len(placed))
            victim = placed[j]
            placed[j] = placed[-1]
            where[placed[j]] = j
            placed.pop()
            del where[victim]
            out.append((CANCEL, victim))
        else:
            out.append((MARKET, rng.random() < 0.5, rng.randint(1, 5) * 15))
    return out


def workload_c(ops: int, seed: int) -> list[tuple]:
    """Market orders that each sweep 50 levels, the book refilled before each."""
    rng = random.Random(seed)
    out: list[tuple] = []
    oid = 0
    while len(out) < ops:
        is_buy = rng.random() < 0.5
        for k in range(50):
            oid += 1
            out.append((LIMIT, oid, not is_buy, MID + 1 + k if is_buy else MID - 1 - k, 4))
        out.append((MARKET, is_buy, 200))
    return out


WORKLOADS = {"A": (workload_a, 200_000), "B": (workload_b, 1_000_000), "C": (workload_c, 51_000)}

# -- runners: workload -> (fills, volume)


def run_floor(workload: list[tuple]) -> tuple[int, int]:
    """The floor: dict price -> [deque of [oid, qty], live count], SortedList of keys."""
    books = ({}, {})  # [is_buy]: price -> [deque, live]
    keys = (SortedList(), SortedList())  # asks by price, bids by -price
    index: dict[int, tuple] = {}
    fills = volume = 0
    for op in workload:
        kind = op[0]
        if kind == CANCEL:
            entry = index.pop(op[1], None)
            if entry is not None:
                cell, is_buy, price = entry
                cell[1] = 0
                level = books[is_buy][price]
                level[1] -= 1
                if level[1] == 0:
                    del books[is_buy][price]
                    keys[is_buy].remove(-price if is_buy else price)
            continue
        is_buy = op[2] if kind == LIMIT else op[1]
        want = op[4] if kind == LIMIT else op[2]
        limit = op[3] if kind == LIMIT else (1 << 62 if is_buy else -(1 << 62))
        other, okeys = books[not is_buy], keys[not is_buy]
        while want and okeys:
            price = okeys[0] if is_buy else -okeys[0]
            if (price > limit) if is_buy else (price < limit):
                break
            level = other[price]
            queue = level[0]
            cell = queue[0]
            if cell[1] == 0:
                queue.popleft()
                continue
            qty = min(want, cell[1])
            want -= qty
            cell[1] -= qty
            fills += 1
            volume += qty
            if cell[1] == 0:
                queue.popleft()
                del index[cell[0]]
                level[1] -= 1
                if level[1] == 0:
                    del other[price]
                    okeys.pop(0)
        if kind == LIMIT and want:
            oid, price = op[1], op[3]
            level = books[is_buy].get(price)
            if level is None:
                level = books[is_buy][price] = [deque(), 0]
                keys[is_buy].add(-price if is_buy else price)
            cell = [oid, want]
            level[0].append(cell)
            level[1] += 1
            index[oid] = (cell, is_buy, price)
    return fills, volume


def run_perpsim(workload: list[tuple]) -> tuple[int, int]:
    """engine.book + engine.matching.match, no accounts."""
    from engine.book import Order, OrderBook
    from engine.enums import OrderType, Side
    from engine.matching import match

    book = OrderBook("X")
    totals = [0, 0]

    def on_fill(maker: Order, price: int, qty: int) -> None:
        totals[0] += 1
        totals[1] += qty

    def on_stp(maker: Order) -> None:  # every order has its own account: never called
        raise AssertionError("self-trade")

    orders = book.orders
    taker_id = 1 << 40
    for op in workload:
        kind = op[0]
        if kind == CANCEL:
            order = orders.get(op[1])
            if order is not None:
                book.remove(order)
            continue
        if kind == LIMIT:
            _, oid, is_buy, price, qty = op
            order = Order(order_id=oid, account=f"a{oid}", symbol="X",
                          side=Side.BUY if is_buy else Side.SELL, type=OrderType.LIMIT,
                          qty=qty, price=price)
            if book.would_cross(is_buy, price):
                match(book, order, price, on_fill, on_stp)
            if order.filled < order.qty:
                book.add(order)
        else:
            _, is_buy, qty = op
            taker_id += 1
            order = Order(order_id=taker_id, account="t", symbol="X",
                          side=Side.BUY if is_buy else Side.SELL, type=OrderType.MARKET,
                          qty=qty, price=None)
            match(book, order, 1 << 62 if is_buy else -(1 << 62), on_fill, on_stp)
    return totals[0], totals[1]


RUNNERS = {"floor": run_floor, "perpsim": run_perpsim}
"""name -> runner; the lead adds "exchange" (the full exchange path) here."""


def _timed(args: tuple) -> tuple[int, int, float]:
    runner, name, ops, seed = args
    workload = WORKLOADS[name][0](ops, seed)
    start = time.perf_counter()
    fills, volume = RUNNERS[runner](workload)
    return fills, volume, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=None,
                        help="operations per workload (default: 200k / 1M / 51k)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="runs per runner; median kept")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    failed = False
    for name, (_, default_ops) in WORKLOADS.items():
        ops = args.ops or default_ops
        results = {}
        for runner in RUNNERS:
            runs = []
            for _ in range(args.repeat):
                with ctx.Pool(1) as pool:
                    runs.append(pool.apply(_timed, ((runner, name, ops, args.seed),)))
            runs.sort(key=lambda r: r[2])
            results[runner] = runs[len(runs) // 2]
        floor = results["floor"]
        for runner, (fills, volume, seconds) in results.items():
            agree = (fills, volume) == floor[:2]
            failed |= not agree
            print(f"{name} {runner:10} ops={ops:>9} fills={fills:>8} volume={volume:>9} "
                  f"{ops / seconds:>12,.0f} ops/s  x{floor[2] / seconds:5.2f} of floor"
                  f"{'' if agree else '  DISAGREES WITH FLOOR'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
