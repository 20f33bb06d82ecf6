"""bench/compare.py: every runner, the full exchange path included, agrees with the floor."""

from __future__ import annotations

import pytest

from bench.compare import (
    BENCH_INSTRUMENT,
    CANCEL,
    LIMIT,
    MID,
    RUNNERS,
    WORKLOADS,
    workload_b,
)
from engine import Exchange, OrderType, Side, parse_instruments
from engine import events as ev
from engine import unit_commands as u


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_the_runners_agree_on_fills_volume_and_idle_ops(name):
    workload = WORKLOADS[name][0](3_000, 11)
    results = {runner: prepare(workload)() for runner, prepare in RUNNERS.items()}
    assert set(results) >= {"floor", "perpsim", "exchange-2000", "exchange-100"}
    assert all(result == results["floor"] for result in results.values()), results
    fills, volume, _ = results["floor"]
    assert (fills > 0 and volume >= fills) if name != "A" else fills == 0


def test_exchange_order_ids_are_the_sequence_the_runner_assumes():
    """The runner numbers its accepted places 1, 2, ... instead of reading ``accepted``."""
    exchange = Exchange(parse_instruments(BENCH_INSTRUMENT))
    symbol = next(iter(exchange.instruments))
    exchange.execute(u.AdvanceTime(ts=10**18))
    for name in ("buyer", "seller"):
        exchange.execute(u.Deposit(account=name, amount=10**14))
    exchange.execute(u.SetIndex(symbol=symbol, price=MID))
    expected, seen = 1, []
    for op in workload_b(2_000, 3):
        if op[0] == CANCEL:
            continue
        is_buy = op[2] if op[0] == LIMIT else op[1]
        events = exchange.execute(u.PlaceOrder(
            account="buyer" if is_buy else "seller", symbol=symbol,
            side=Side.BUY if is_buy else Side.SELL,
            type=OrderType.LIMIT if op[0] == LIMIT else OrderType.MARKET,
            qty=op[4] if op[0] == LIMIT else op[2], price=op[3] if op[0] == LIMIT else None))
        accepted = [e.order_id for e in events if type(e) is ev.Accepted]
        if accepted:
            seen.append((accepted, [expected]))
            expected += 1
        else:
            assert [e.reason for e in events] == ["no_liquidity"]
    assert seen and all(got == want for got, want in seen)
