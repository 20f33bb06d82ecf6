"""The clock path: one simulated second is a ``time`` command plus an ``index`` per symbol.

Workload: BTC, gold and silver, each with a two-sided book (20 levels a side) and about 1 000
open positions between them (well funded: nobody is liquidated). Each round advances the clock
by one second and moves every index by a tick; the benchmark asserts the marks the rounds end
on, so a faster clock path that changed a mark would fail here as well as in the tests.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine import Exchange
from engine.commands import AdvanceTime, Deposit, PlaceOrder, SetIndex
from engine.enums import OrderType, Side

START_S = 1_767_780_000  # 2026-01-07T10:00:00Z, a Wednesday: the metals market is open
SYMBOLS = {  # index, tick, order size
    "BTCUSDT": (Decimal("90000.0"), Decimal("0.1"), Decimal("0.010")),
    "XAUUSDT": (Decimal("2650.00"), Decimal("0.01"), Decimal("0.100")),
    "XAGUSDT": (Decimal("78.50"), Decimal("0.01"), Decimal("5.000")),
}
POSITIONS = 1_000
ROUNDS = 200
MAKERS = 10
LEVELS = 20


def _ts(seconds: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_exchange(positions: int = POSITIONS) -> Exchange:
    """Three books and ``positions`` takers a0, a1, ... each holding one position."""
    exchange = Exchange()
    run = exchange.execute
    run(AdvanceTime(ts=_ts(START_S)))
    for symbol, (index, _, _) in SYMBOLS.items():
        run(SetIndex(symbol=symbol, price=index))
    for m in range(MAKERS):
        run(Deposit(account=f"m{m}", amount=Decimal(10**9)))
    for symbol, (index, tick, size) in SYMBOLS.items():
        for level in range(1, LEVELS + 1):
            for m in range(MAKERS):
                for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                    run(PlaceOrder(account=f"m{m}", symbol=symbol, side=side,
                                   type=OrderType.LIMIT, qty=size * 20,
                                   price=index + sign * tick * level))
    names = list(SYMBOLS)
    for i in range(positions):
        account = f"a{i}"
        symbol = names[i % len(names)]
        run(Deposit(account=account, amount=Decimal(10**7)))
        run(PlaceOrder(account=account, symbol=symbol,
                       side=Side.BUY if i % 2 else Side.SELL, type=OrderType.MARKET,
                       qty=SYMBOLS[symbol][2]))
    held = sum(1 for a in exchange.accounts.values() for p in a.positions.values() if p.qty)
    assert held >= positions, held
    return exchange


def clock_rounds(exchange: Exchange, rounds: int, start_s: int) -> None:
    """``rounds`` simulated seconds from ``start_s``: time, then each symbol's index."""
    run = exchange.execute
    commands = []
    for r in range(rounds):
        step = [AdvanceTime(ts=_ts(start_s + r + 1))]
        for symbol, (index, tick, _) in SYMBOLS.items():
            step.append(SetIndex(symbol=symbol, price=index + tick * ((r * 7) % 5 - 2)))
        commands.append(step)
    it = iter(commands)

    def one_second() -> None:
        for command in next(it):
            run(command)
    return one_second


EXPECTED_MARKS = {"BTCUSDT": 899_998, "XAUUSDT": 264_998, "XAGUSDT": 7_848}
"""What the base commit (2261f80, the Fraction clock path) ends on after ROUNDS seconds."""


@pytest.mark.benchmark(group="clock")
def test_clock_second(benchmark):
    exchange = build_exchange()
    one_second = clock_rounds(exchange, ROUNDS + 1, START_S)
    benchmark.pedantic(one_second, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    marks = {s: exchange.mark[s] for s in SYMBOLS}
    assert marks == EXPECTED_MARKS
