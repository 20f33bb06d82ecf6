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


def test_mix_against_runs_both_faces_in_their_own_processes_and_prints_the_ratio(capsys):
    """bench/mix_against.py, with this tree standing in for the base (its wire face)."""
    from pathlib import Path

    from bench import mix_against

    here = str(Path(mix_against.__file__).resolve().parent.parent)
    assert mix_against.main([here, "--pairs", "1", "--seconds", "3", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("pair 1: base ") and " ms: x" in lines[0]
    assert lines[-1].startswith("3 simulated s, best of 1 rounds a run: x")


def test_mix_against_refuses_a_base_without_the_mix_in_one_line(tmp_path, capsys):
    from bench import mix_against

    assert mix_against.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
