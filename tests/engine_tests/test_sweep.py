"""The numpy margin screen never misses an account that fails the exact integer margin test,
including after many incremental re-marks and row changes (engine/sweep.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine import sweep
from engine.account import Account
from engine.instrument import default_instruments
from engine.margin import cross_health, isolated_health, maintenance_margin
from engine.sweep import MarginScreen

INSTRUMENTS = default_instruments()
ENTRY = {"BTCUSDT": 900_000, "XAUUSDT": 260_000, "XAGUSDT": 7_850}


def random_account(rng: random.Random, name: str, marks: dict[str, int]) -> Account:
    account = Account(name)
    for symbol, instrument in INSTRUMENTS.items():
        if rng.random() < 0.4:
            continue
        position = account.position(symbol)
        lots = rng.choice([rng.randint(1, 50), rng.randint(1, 20_000)]) * rng.choice([1, -1])
        entry = max(1, int(marks[symbol] * rng.uniform(0.9, 1.1)))
        position.apply_fill(lots, entry, instrument.cash_per_tick_lot)
        if rng.random() < 0.25:
            position.isolated = True
            value = abs(lots) * entry * instrument.cash_per_tick_lot
            position.isolated_margin = value * rng.randint(50, 1_500) // 10_000
    notional = sum(abs(p.qty) * marks[s] * INSTRUMENTS[s].cash_per_tick_lot
                   for s, p in account.positions.items())
    account.wallet = max(0, notional * rng.randint(0, 1_500) // 10_000 + rng.randint(-10, 10))
    return account


def failing(accounts: dict[str, Account], symbol: str, marks: dict[str, int]) -> set[str]:
    """Holders of ``symbol`` that fail the exact test in the part (cross or isolated) that
    holds the symbol."""
    out = set()
    for account in accounts.values():
        position = account.positions.get(symbol)
        if position is None or position.qty == 0:
            continue
        if position.isolated:
            health = isolated_health(INSTRUMENTS[symbol], position, marks[symbol])
        else:
            health = cross_health(account, INSTRUMENTS, marks)
        if health.is_liquidatable:
            out.add(account.id)
    return out


def check(screen: MarginScreen, accounts: dict[str, Account], marks: dict[str, int],
          symbol: str) -> None:
    candidates = set(screen.candidates(symbol, marks[symbol]))
    missed = failing(accounts, symbol, marks) - candidates
    assert not missed, f"the screen missed {sorted(missed)[:5]} on {symbol}"
    holders = {a for a, acc in accounts.items()
               if acc.positions.get(symbol) is not None and acc.positions[symbol].qty}
    assert candidates <= holders


def setup(seed: int, n: int) -> tuple[random.Random, dict[str, int], dict[str, Account],
                                     MarginScreen]:
    rng = random.Random(seed)
    marks = dict(ENTRY)
    accounts = {f"a{i}": random_account(rng, f"a{i}", marks) for i in range(n)}
    screen = MarginScreen(INSTRUMENTS)
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    for symbol in INSTRUMENTS:
        screen.candidates(symbol, marks[symbol])
    return rng, marks, accounts, screen


@pytest.mark.parametrize("seed", range(4))
def test_candidates_cover_every_failing_account(seed):
    rng, marks, accounts, screen = setup(seed, 400)
    for _ in range(30):
        symbol = rng.choice(list(INSTRUMENTS))
        marks[symbol] = max(1, int(marks[symbol] * rng.uniform(0.93, 1.07)))
        check(screen, accounts, marks, symbol)


@pytest.mark.parametrize("seed", range(3))
def test_many_incremental_updates(seed, monkeypatch):
    """Thousands of re-marks and row changes with no rebuild in between: the deltas' drift
    stays inside the tolerance and the sums match a rebuild from scratch."""
    monkeypatch.setattr(sweep, "RECOMPUTE_EVERY", 10**9)
    rng, marks, accounts, screen = setup(100 + seed, 200)
    names = list(accounts)
    for step in range(3_000):
        symbol = rng.choice(list(INSTRUMENTS))
        marks[symbol] = max(1, int(marks[symbol] * rng.uniform(0.97, 1.03)))
        if step % 7 == 0:  # rows change: replace, open, close
            name = rng.choice(names)
            accounts[name] = random_account(rng, name, marks)
            screen.dirty.add(name)
            screen.refresh(accounts)
        if step % 50 == 0:
            check(screen, accounts, marks, symbol)
        else:
            screen.candidates(symbol, marks[symbol])
    slots = len(screen.index)
    margin, scale = screen.margin[:slots].copy(), screen.scale[:slots].copy()
    screen.rebuild()
    error = np.abs(margin - screen.margin[:slots])
    assert np.all(error <= 1e-3 * sweep.TOLERANCE * screen.scale[:slots] + 1.0)
    assert np.allclose(scale, screen.scale[:slots], rtol=1e-12)
    for symbol in INSTRUMENTS:
        check(screen, accounts, marks, symbol)


def test_boundary_accounts_are_candidates():
    """Accounts exactly at, one cash unit below and one above maintenance."""
    instrument = INSTRUMENTS["BTCUSDT"]
    mark = 882_000
    accounts = {}
    cases = [(lots, offset) for lots in (1, 37, 1_999, -500) for offset in (-1, 0, 1)]
    for i, (lots, offset) in enumerate(cases):
        account = Account(f"b{i}")
        position = account.position("BTCUSDT")
        position.apply_fill(lots, 900_000, instrument.cash_per_tick_lot)
        pnl = position.unrealized_pnl(mark, instrument.cash_per_tick_lot)
        account.wallet = maintenance_margin(instrument, lots, mark) - pnl + offset
        accounts[account.id] = account
    screen = MarginScreen(INSTRUMENTS)
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    marks = {s: None for s in INSTRUMENTS} | {"BTCUSDT": mark}
    for _ in range(3):
        check(screen, accounts, marks, "BTCUSDT")


def test_mark_far_from_last_rebuild_rebuilds():
    rng, marks, accounts, screen = setup(7, 50)
    screen.remarks = 5
    marks["BTCUSDT"] *= 20
    check(screen, accounts, marks, "BTCUSDT")
    assert screen.remarks == 0
