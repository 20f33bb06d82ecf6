"""The mark sweep: find the accounts that fail the margin test after a mark move.

``MarginScreen.candidates`` (numpy, engine/sweep.py) against the exact per-account loop it
replaces, over 10^3 .. 10^6 BTC positions. Workload: one cross account per position, sizes
0.001-2 BTC long or short at 90 000, wallets drawn so that about 2.5 % of the accounts fail the
test after the mark moves 2 % against the longs. Each benchmark asserts that the screen's
candidates contain every account that really fails, and few more.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.account import Account
from engine.instrument import default_instruments
from engine.margin import cross_health
from engine.sweep import MarginScreen

SYMBOL = "BTCUSDT"
ENTRY = 900_000  # ticks of 0.10: 90 000 USDT
MARK = 882_000   # 2 % lower
SIZES = [1_000, 10_000, 100_000, 1_000_000]


def build(n: int, seed: int = 11) -> tuple[dict[str, Account], MarginScreen, set[str]]:
    instruments = default_instruments()
    instrument = instruments[SYMBOL]
    rng = random.Random(seed)
    accounts: dict[str, Account] = {}
    screen = MarginScreen(instruments)
    for i in range(n):
        account = Account(f"a{i}")
        lots = rng.randint(1, 2_000) * (1 if rng.random() < 0.5 else -1)
        position = account.position(SYMBOL)
        position.apply_fill(lots, ENTRY, instrument.cash_per_tick_lot)
        value = abs(lots) * ENTRY * instrument.cash_per_tick_lot
        # margin of 2 % to 12 % of the notional: longs under ~2.5 % fail after a 2 % fall
        account.wallet = value * rng.randint(200, 1_200) // 10_000
        accounts[account.id] = account
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    marks = {s: None for s in instruments}
    marks[SYMBOL] = MARK
    failing = {a.id for a in accounts.values()
               if cross_health(a, instruments, marks).is_liquidatable}
    return accounts, screen, failing


@pytest.mark.benchmark(group="sweep.mark")
@pytest.mark.parametrize("n", SIZES)
def test_numpy_screen(benchmark, n):
    accounts, screen, failing = build(n)
    marks = iter(range(MARK + 1, MARK + 100))  # a new mark each round: every round re-marks

    def sweep_at_a_new_mark() -> list[str]:
        return screen.candidates(SYMBOL, next(marks))

    benchmark.pedantic(sweep_at_a_new_mark, rounds=5, warmup_rounds=1)
    candidates = screen.candidates(SYMBOL, MARK)
    assert failing <= set(candidates), "the screen missed an account that fails"
    assert len(candidates) - len(failing) <= n // 10_000 + 1, "the screen is too loose"
    assert 0 < len(failing) < 0.05 * n, "the workload has a few failing accounts"


@pytest.mark.benchmark(group="sweep.mark")
@pytest.mark.parametrize("n", SIZES)
def test_one_numpy_pass(benchmark, n):
    """The yardstick: one numpy pass over the same arrays (value, notional, tier lookup,
    maintenance, PnL and one ``bincount`` sum per account). The sweep is quoted as a multiple
    of this, measured in the same run."""
    _, screen, _ = build(n)
    table = screen.tables[SYMBOL]
    qty, cost, owner = table.qty[:n].copy(), table.cost[:n].copy(), table.account[:n].copy()
    caps, mmr, cum, per_lot = table.caps, table.mmr, table.cum, table.per_lot
    slots = len(screen.index)

    def one_pass():
        value = qty * (MARK * per_lot)
        notional = np.abs(value)
        tier = np.minimum(np.searchsorted(caps, notional, side="left"), len(caps) - 1)
        maintenance = notional * mmr[tier] - cum[tier]
        upnl = value - np.sign(qty) * cost
        return np.bincount(owner, upnl - maintenance, minlength=slots)

    benchmark.pedantic(one_pass, rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group="sweep.mark")
@pytest.mark.parametrize("n", SIZES[:3])
def test_exact_python_loop(benchmark, n):
    """The loop the screen replaces: exact integer margin test of every holder."""
    accounts, _, failing = build(n)
    instruments = default_instruments()
    marks = {s: None for s in instruments}
    marks[SYMBOL] = MARK

    def sweep():
        return {a.id for a in accounts.values()
                if cross_health(a, instruments, marks).is_liquidatable}

    assert benchmark.pedantic(sweep, rounds=3) == failing
