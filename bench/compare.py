"""Same seeded workloads through perpsim's book+matching and a pure-Python floor matcher.

Run ``python bench/compare.py [--ops N] [--seed S]``. Each runner runs each workload in its own
process; the runners must agree on the number of fills (maker-taker pairs) and the traded
volume, or the run exits non-zero. Prints ops/s per runner and the ratio to the floor
(DESIGN.md §10), by CPU time (``process_time``: the machine is shared), with the wall-clock
rate beside it. ``--workloads B --runners exchange-2000`` runs a part (the floor always runs).

A runner is ``prepare(workload) -> run``, ``run() -> (fills, volume, idle ops)``: the setup is
untimed, ``run`` is timed; the runners must also agree on the idle ops (cancels of orders that
have filled, market orders that meet an empty side). ``RUNNERS`` holds the floor, perpsim's book and
matching alone, and perpsim's full exchange path (int-unit commands through ``Exchange.execute``)
with the orders spread over 2,000 accounts and concentrated on 100.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from functools import partial
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


class _LiveOrders:
    """The orders resting in a workload's book, as the generator follows it: a cancel picks a
    live order and a market order is sized to the levels it should sweep (without this, most
    cancels hit orders that already filled and market orders meet an empty side)."""

    def __init__(self) -> None:
        self.levels: tuple[dict[int, list[list[int]]], dict[int, list[list[int]]]] = ({}, {})
        self.keys = (SortedList(), SortedList())  # [is_buy]: asks by price, bids by -price
        self.ids: list[int] = []
        self.slot: dict[int, tuple[int, list[int], bool, int]] = {}

    def rest(self, oid: int, is_buy: bool, price: int, qty: int) -> None:
        cell = [oid, qty]
        level = self.levels[is_buy].get(price)
        if level is None:
            level = self.levels[is_buy][price] = []
            self.keys[is_buy].add(-price if is_buy else price)
        level.append(cell)
        self.slot[oid] = (len(self.ids), cell, is_buy, price)
        self.ids.append(oid)

    def remove(self, oid: int) -> None:
        j, cell, is_buy, price = self.slot.pop(oid)
        last = self.ids.pop()
        if last != oid:
            self.ids[j] = last
            self.slot[last] = (j, *self.slot[last][1:])
        level = self.levels[is_buy][price]
        level.remove(cell)
        if not level:
            del self.levels[is_buy][price]
            self.keys[is_buy].remove(-price if is_buy else price)

    def take(self, is_buy: bool, limit: int | None, want: int) -> int:
        """Match an incoming order against the other side; returns what is left of it."""
        keys, levels = self.keys[not is_buy], self.levels[not is_buy]
        while want and keys:
            price = keys[0] if is_buy else -keys[0]
            if limit is not None and ((price > limit) if is_buy else (price < limit)):
                break
            cell = levels[price][0]
            qty = min(want, cell[1])
            want -= qty
            cell[1] -= qty
            if cell[1] == 0:
                self.remove(cell[0])
        return want

    def depth(self, is_buy: bool, levels: int) -> int:
        """The quantity on the first ``levels`` levels of the side an ``is_buy`` order meets."""
        side = self.levels[not is_buy]
        keys = self.keys[not is_buy]
        return sum(cell[1] for key in keys.islice(0, levels)
                   for cell in side[key if is_buy else -key])


def workload_b(ops: int, seed: int) -> list[tuple]:
    """60% limit orders (some crossing), 30% cancels of live orders, 10% market orders each
    sized to sweep 1-5 levels of the book as it stands."""
    rng = random.Random(seed)
    out: list[tuple] = []
    live = _LiveOrders()
    oid = 0
    for i in range(200):  # a seed book
        oid += 1
        is_buy = i % 2 == 0
        price = MID - 1 - i // 2 if is_buy else MID + 1 + i // 2
        out.append((LIMIT, oid, is_buy, price, 5))
        live.rest(oid, is_buy, price, 5)
    while len(out) < ops:
        r = rng.random()
        if r < 0.6:
            oid += 1
            is_buy = rng.random() < 0.5
            offset = rng.randint(-3, 60)  # a negative offset crosses the spread
            price, qty = MID - offset if is_buy else MID + offset, rng.randint(1, 10)
            out.append((LIMIT, oid, is_buy, price, qty))
            left = live.take(is_buy, price, qty)
            if left:
                live.rest(oid, is_buy, price, left)
        elif r < 0.9 and live.ids:
            victim = live.ids[rng.randrange(len(live.ids))]
            live.remove(victim)
            out.append((CANCEL, victim))
        else:
            is_buy = rng.random() < 0.5
            qty = live.depth(is_buy, rng.randint(1, 5))
            if qty:
                out.append((MARKET, is_buy, qty))
                live.take(is_buy, None, qty)
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

# -- runners: prepare(workload) -> run() -> (fills, volume, idle)
# ``prepare`` is the untimed setup (an exchange, its accounts and their cash, the index); only
# ``run`` is timed. A fill is one maker-taker pair, counted as the floor counts it. ``idle``
# counts the ops that do nothing: cancels of orders that have already filled, and market orders
# that meet an empty side (the exchange refuses both; the floor skips them).


def floor_counts(workload: list[tuple]) -> tuple[int, int, int]:
    """The floor: dict price -> [deque of [oid, qty], live count], SortedList of keys."""
    books = ({}, {})  # [is_buy]: price -> [deque, live]
    keys = (SortedList(), SortedList())  # asks by price, bids by -price
    index: dict[int, tuple] = {}
    fills = volume = idle = 0
    for op in workload:
        kind = op[0]
        if kind == CANCEL:
            entry = index.pop(op[1], None)
            if entry is None:
                idle += 1
            else:
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
        if kind == MARKET and not okeys:
            idle += 1
            continue
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
    return fills, volume, idle


def limit_owners(workload: list[tuple]) -> dict[int, str]:
    """An account name for each limit order of ``workload`` (its own, so that no two orders
    can self-trade): made before the timed run, as a user's account exists before its
    orders (formatting them in the loop was a sixth of the book runner's time)."""
    return {op[1]: f"a{op[1]}" for op in workload if op[0] == LIMIT}


def perpsim_counts(workload: list[tuple], owners: dict[int, str] | None = None
                   ) -> tuple[int, int, int]:
    """engine.book + engine.matching.match, no accounts; ``owners`` from ``limit_owners``."""
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

    if owners is None:
        owners = limit_owners(workload)
    orders = book.orders
    taker_id = 1 << 40
    idle = 0
    buy, sell, limit_type, market_type = Side.BUY, Side.SELL, OrderType.LIMIT, OrderType.MARKET
    for op in workload:
        kind = op[0]
        if kind == CANCEL:
            order = orders.get(op[1])
            if order is None:
                idle += 1
            else:
                book.remove(order)
            continue
        if kind == LIMIT:
            _, oid, is_buy, price, qty = op
            order = Order(order_id=oid, account=owners[oid], symbol="X",
                          side=buy if is_buy else sell, type=limit_type, qty=qty, price=price)
            if book.would_cross(is_buy, price):
                match(book, order, price, on_fill, on_stp)
            if order.filled < order.qty:
                book.add(order)
        else:
            _, is_buy, qty = op
            taker_id += 1
            order = Order(order_id=taker_id, account="t", symbol="X",
                          side=buy if is_buy else sell, type=market_type, qty=qty, price=None)
            if (book.asks if is_buy else book.bids).best is None:
                idle += 1
                continue
            match(book, order, 1 << 62 if is_buy else -(1 << 62), on_fill, on_stp)
    return totals[0], totals[1], idle


def run_floor(workload: list[tuple]) -> tuple[int, int]:
    """(fills, volume) of the floor, for the tests and bench_book."""
    return floor_counts(workload)[:2]


def run_perpsim(workload: list[tuple]) -> tuple[int, int]:
    """(fills, volume) of perpsim's book and matching, for the tests and bench_book."""
    return perpsim_counts(workload)[:2]


BENCH_SYMBOL = "XBENCH"
BENCH_INSTRUMENT = f"""
[[instrument]]
symbol = "{BENCH_SYMBOL}"
tick_size = 0.01
lot_size = 0.001
min_qty = 0.001
max_qty = 1000
max_market_qty = 1000
min_notional = 0
maker_fee = 0.0002
taker_fee = 0.0005
clearance_fee = 0.0125
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = 0.5
mark_method = "index"
tiers = [{{ notional_floor = 0, notional_cap = 1000000000, max_leverage = 100, mmr = 0.005 }}]
"""
"""The workloads' integer prices and sizes as ticks of 0.01 and lots of 0.001 (the book sits
near 1,000.00 USDT, an order is worth 1-10 USDT): the mark is the index, fixed at MID; the band
(50 %) holds every price the workloads use, and one wide tier and ample cash mean no order is
refused for margin, tier or band."""
START_NS = 1_767_780_000 * 10**9  # 2026-01-07T10:00:00Z
CASH_PER_ACCOUNT = 10**6 * 10**8  # 1,000,000 USDT in cash units


def exchange_runner(accounts: int) -> Callable[[list[tuple]], Callable[[], tuple[int, int, int]]]:
    """perpsim's full exchange path: every op an int-unit command through ``Exchange.execute``.

    Bids belong to one half of the ``accounts``, asks to the other (round robin by order id;
    market buys come from the bid half, market sells from the ask half), so a taker never meets
    its own resting order: self-trade prevention, which the floor does not have, never fires.
    Only ``Trade`` and ``Rejected`` events are built. Exchange order ids are handed out in
    sequence from 1 to accepted orders, so the runner numbers its own places; the only refusal
    allowed is of an idle op: the cancel of an order that has already filled
    (``unknown_order``) or a market order that meets an empty side (``no_liquidity``).
    """

    def prepare(workload: list[tuple]) -> Callable[[], tuple[int, int, int]]:
        from engine import Exchange, OrderType, RejectReason, Side, parse_instruments
        from engine import events as ev
        from engine import unit_commands as u

        exchange = Exchange(parse_instruments(BENCH_INSTRUMENT))
        half = accounts // 2
        bidders = [f"b{n}" for n in range(half)]
        askers = [f"a{n}" for n in range(half)]
        setup: list = [u.AdvanceTime(ts=START_NS)]
        setup += [u.Deposit(account=name, amount=CASH_PER_ACCOUNT) for name in bidders + askers]
        setup.append(u.SetIndex(symbol=BENCH_SYMBOL, price=MID))
        for command in setup:
            for event in exchange.execute(command):
                if type(event) is ev.Rejected:
                    raise AssertionError(f"setup refused: {event}")
        exchange.select_events([ev.Trade, ev.Rejected])

        def run() -> tuple[int, int, int]:
            execute, place, cancel = exchange.execute, u.PlaceOrder, u.CancelOrder
            trade, refused = ev.Trade, ev.Rejected
            unknown, empty = RejectReason.UNKNOWN_ORDER, RejectReason.NO_LIQUIDITY
            buy, sell, limit, market = Side.BUY, Side.SELL, OrderType.LIMIT, OrderType.MARKET
            symbol = BENCH_SYMBOL
            ids: dict[int, tuple[str, int]] = {}  # workload oid -> (account, exchange order id)
            next_id = 1
            takers = 0
            fills = volume = idle = 0
            for op in workload:
                kind = op[0]
                if kind == LIMIT:
                    _, oid, is_buy, price, qty = op
                    account = bidders[oid % half] if is_buy else askers[oid % half]
                    events = execute(place(account=account, symbol=symbol,
                                           side=buy if is_buy else sell, type=limit, qty=qty,
                                           price=price))
                    ids[oid] = (account, next_id)
                    next_id += 1
                elif kind == CANCEL:
                    account, order_id = ids.pop(op[1])
                    events = execute(cancel(account=account, order_id=order_id))
                else:
                    _, is_buy, qty = op
                    takers += 1
                    events = execute(place(
                        account=bidders[takers % half] if is_buy else askers[takers % half],
                        symbol=symbol, side=buy if is_buy else sell, type=market, qty=qty))
                    if events and type(events[0]) is refused:
                        if events[0].reason is not empty:
                            raise AssertionError(f"refused: {events[0]}")
                        idle += 1  # the floor's market order that found nothing to take
                        continue
                    next_id += 1
                for event in events:
                    if type(event) is trade:
                        fills += 1
                        volume += event.qty
                    elif kind == CANCEL and event.reason is unknown:
                        idle += 1  # the floor's cancel of an order that already filled
                    else:
                        raise AssertionError(f"refused: {event}")
            return fills, volume, idle

        return run

    return prepare


def _untimed(runner: Callable[[list[tuple]], tuple[int, int, int]]
             ) -> Callable[[list[tuple]], Callable[[], tuple[int, int, int]]]:
    """A runner with no setup."""
    return lambda workload: lambda: runner(workload)


RUNNERS: dict[str, Callable[[list[tuple]], Callable[[], tuple[int, int, int]]]] = {
    "floor": _untimed(floor_counts),
    "perpsim": lambda workload: partial(perpsim_counts, workload, limit_owners(workload)),
    "exchange-2000": exchange_runner(2_000),
    "exchange-100": exchange_runner(100),
}
"""name -> prepare: ``prepare(workload)`` is the untimed setup and returns the timed run."""


def _timed(args: tuple) -> tuple[int, int, int, float, float]:
    """(fills, volume, idle, CPU seconds, wall seconds) of one timed run. The ratios use CPU
    time: the machine is shared, and a runner's wall time counts what other processes ran."""
    runner, name, ops, seed = args
    workload = WORKLOADS[name][0](ops, seed)
    RUNNERS[runner]([])()  # imports (engine, numpy) outside the timed run
    run = RUNNERS[runner](workload)
    cpu, wall = time.process_time(), time.perf_counter()
    fills, volume, idle = run()
    return fills, volume, idle, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=None,
                        help="operations per workload (default: 200k / 1M / 51k)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="runs per runner; median kept")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated, of " + ", ".join(WORKLOADS))
    parser.add_argument("--runners", default=",".join(RUNNERS),
                        help="comma-separated, of " + ", ".join(RUNNERS))
    args = parser.parse_args(argv)
    runners = ["floor"] + [r for r in args.runners.split(",") if r != "floor"]
    workloads = args.workloads.split(",")
    for unknown in set(runners) - RUNNERS.keys() | set(workloads) - WORKLOADS.keys():
        parser.error(f"no runner or workload {unknown!r}")
    # numpy's OpenBLAS starts a thread per core on import, and their start-up CPU lands in the
    # first timed run of a process (twice the wall time of workload C's 60 ms): the engine's
    # arrays need no BLAS threads, and a runner's CPU time should be its own
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    ctx = multiprocessing.get_context("spawn")
    failed = False
    for name in workloads:
        ops = args.ops or WORKLOADS[name][1]
        results = {}
        for runner in runners:
            runs = []
            for _ in range(args.repeat):
                with ctx.Pool(1) as pool:
                    runs.append(pool.apply(_timed, ((runner, name, ops, args.seed),)))
            runs.sort(key=lambda r: r[3])  # by CPU time
            results[runner] = runs[len(runs) // 2]
        floor = results["floor"]
        for runner, (fills, volume, idle, cpu, wall) in results.items():
            agree = (fills, volume, idle) == floor[:3]
            failed |= not agree
            print(f"{name} {runner:13} ops={ops:>9} fills={fills:>8} volume={volume:>9} "
                  f"idle={idle:>6} {ops / cpu:>11,.0f} ops/CPU-s  x{floor[3] / cpu:6.3f} of floor"
                  f"  ({ops / wall:,.0f} ops/wall-s)"
                  f"{'' if agree else '  DISAGREES WITH FLOOR'}", flush=True)
        if {"exchange-2000", "exchange-100"} <= results.keys():
            spread, concentrated = results["exchange-2000"][3], results["exchange-100"][3]
            print(f"{name} exchange-100 / exchange-2000: x{spread / concentrated:.2f}",
                  flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
