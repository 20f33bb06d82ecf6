"""The numpy margin screen never misses an account that fails the exact integer margin test,
including after many incremental re-marks and row changes (engine/sweep.py)."""

from __future__ import annotations

import math
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


def healthy_account(rng: random.Random, name: str, marks: dict[str, int]) -> Account:
    """A random account with 8 % to 50 % of its notional added as margin: sweeps find it only
    after the marks have moved a few per cent against it."""
    account = random_account(rng, name, marks)
    account.wallet += sum(abs(p.qty) * marks[s] * INSTRUMENTS[s].cash_per_tick_lot
                          for s, p in account.positions.items()) // rng.choice([2, 3, 12])
    for position in account.positions.values():
        if position.isolated:
            position.isolated_margin += position.cost // rng.choice([2, 3, 12])
    return account


def healthy_accounts(rng: random.Random, n: int, marks: dict[str, int]) -> dict[str, Account]:
    return {f"a{i}": healthy_account(rng, f"a{i}", marks) for i in range(n)}


MOVES = [0.0001] * 6 + [0.0003] * 3 + [0.0, 0.003, 0.01, 0.06]
"""Relative mark moves: mostly ticks, sometimes gaps."""


@pytest.mark.parametrize("seed", range(4))
def test_a_skipped_sweep_finds_what_a_full_one_finds(seed, monkeypatch):
    """The oracle: a screen that always re-marks (no radius) beside the one that skips sweeps
    within the radius. Small mark moves (mostly within the radius), some large ones, and
    accounts changing now and then (and replaced when they fail, as if liquidated): the two
    return the same candidates every time, and these cover every account that fails the
    exact test. Sweeps were skipped, and some were not; some skipped ones named a watched
    holder that failed."""
    rng = random.Random(seed)
    marks = dict(ENTRY)
    accounts = healthy_accounts(rng, 150, marks)
    lazy, eager = MarginScreen(INSTRUMENTS), MarginScreen(INSTRUMENTS)
    monkeypatch.setattr(eager, "_drift", lambda table: math.inf)
    for screen in (lazy, eager):
        screen.dirty.update(accounts)
        screen.refresh(accounts)
        for symbol in INSTRUMENTS:  # as the exchange does: every table at its symbol's mark
            screen.candidates(symbol, marks[symbol])
    skipped = full = failed = watched = 0
    names = list(accounts)
    for step in range(600):
        symbol = rng.choice(list(INSTRUMENTS))
        move = rng.choice(MOVES) * rng.choice([1, -1])
        marks[symbol] = max(1, round(marks[symbol] * (1 + move)))
        if step % 40 == 39 or step % 97 == 0:
            # a changed account: mostly healthy (the sweep stays skipped on its own radius),
            # now and then one that may sit near maintenance
            name = rng.choice(names)
            accounts[name] = (healthy_account if step % 40 == 39 else random_account)(
                rng, name, marks)
            for screen in (lazy, eager):
                screen.dirty.add(name)
                screen.refresh(accounts)
        before = lazy.tables[symbol].mark
        found = lazy.candidates(symbol, marks[symbol])
        if lazy.tables[symbol].size:
            skip = lazy.tables[symbol].mark == before != marks[symbol]
            skipped += skip
            full += lazy.tables[symbol].mark == marks[symbol]
            watched += skip and bool(failing(accounts, symbol, marks))
        assert sorted(found) == sorted(eager.candidates(symbol, marks[symbol]))
        failures = failing(accounts, symbol, marks)
        assert failures <= set(found)
        failed += len(failures)
        for name in failures:  # liquidated, as the exchange would: a fresh account instead
            accounts[name] = healthy_account(rng, name, marks)
            for screen in (lazy, eager):
                screen.dirty.add(name)
                screen.refresh(accounts)
    print(f"skipped {skipped}, full {full}, failing {failed}, found by the watch {watched}")
    assert skipped > 50 and full > 50, (skipped, full)
    assert watched, "no skipped sweep had a failing holder to find"
    assert failed, "the moves made some account fail"


def push_below_maintenance(account: Account, symbol: str, marks: dict[str, int],
                           extra: int = 1) -> None:
    """Take ``extra`` cash units more than its headroom out of the part that holds
    ``symbol``."""
    position = account.positions[symbol]
    if position.isolated:  # its isolated margin stands behind its row
        health = isolated_health(INSTRUMENTS[symbol], position, marks[symbol])
        position.isolated_margin -= health.equity - health.maintenance + extra
    else:
        health = cross_health(account, INSTRUMENTS, marks)
        account.wallet -= health.equity - health.maintenance + extra


def test_a_changed_account_is_watched_and_a_move_beyond_the_radius_sweeps_again():
    """Skipped: a small move of the symbol's own mark, and again after a holder was re-read
    unchanged (the radius covers it). A holder changed to below maintenance joins the watch:
    the next sweep names it without re-marking the table. Swept in full: after another
    symbol's mark moved beyond the radius (its holders' cross sums count that symbol too),
    after the symbol's own mark moved beyond it."""
    rng = random.Random(9)
    marks = dict(ENTRY)
    accounts = healthy_accounts(rng, 50, marks)
    screen = MarginScreen(INSTRUMENTS)
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    for symbol in [*INSTRUMENTS, "XAUUSDT"]:  # XAU again: once every table has a mark
        screen.candidates(symbol, marks[symbol])
    table = screen.tables["XAUUSDT"]
    assert table.radius > 0, "nobody is near maintenance"

    def nudge(mark: int, fraction: float) -> int:
        return round(mark * (1 + fraction * table.radius))

    xau = nudge(marks["XAUUSDT"], 0.5)
    assert screen.candidates("XAUUSDT", xau) == []
    assert (table.mark, table.latest) == (marks["XAUUSDT"], xau), "skipped"
    holder = next(name for name in accounts if name in table.rows and name not in table.watch)
    screen.dirty.add(holder)
    screen.refresh(accounts)
    assert holder not in table.watch, "the radius covers the holder re-read unchanged"
    xau = nudge(xau, 0.1)
    screen.candidates("XAUUSDT", xau)
    assert table.mark == marks["XAUUSDT"], "skipped: the holder re-read is as far from failing"
    push_below_maintenance(accounts[holder], "XAUUSDT", marks | {"XAUUSDT": xau})
    screen.dirty.add(holder)
    screen.refresh(accounts)
    assert holder in table.watch
    assert holder in screen.candidates("XAUUSDT", xau), "the watch names it"
    assert table.mark == marks["XAUUSDT"], "without a full sweep"
    accounts[holder] = healthy_account(rng, holder, marks)  # liquidated: healthy again
    screen.dirty.add(holder)
    screen.refresh(accounts)
    screen.candidates("BTCUSDT", nudge(marks["BTCUSDT"], 1.5))
    xau_next = nudge(xau, 0.1)
    screen.candidates("XAUUSDT", xau_next)
    assert table.mark == xau_next, "another mark moved beyond the radius"
    beyond = nudge(xau_next, 1.5)
    screen.candidates("XAUUSDT", beyond)
    assert table.mark == beyond, "its own mark moved beyond the radius"


def test_a_holder_reread_after_another_mark_moved_is_held_to_the_marks_of_its_reread():
    """A holder re-read once another symbol's sweep has moved that symbol's table narrows the
    radius of this table as measured from this table's own sweep: a mark that goes back to
    this sweep's value is a move from the marks the holder was re-read at.

    Setup: healthy holders of BTC and XAU, swept; BTC's mark rises 5 % (BTC swept in full);
    then an account long both, a fraction of a per cent above maintenance at the new BTC mark,
    is re-read. BTC falls back to where XAU's table was swept: the account fails, and the XAU
    sweep at an unchanged XAU mark must name it."""
    rng = random.Random(3)
    marks = dict(ENTRY)
    accounts = healthy_accounts(rng, 30, marks)
    screen = MarginScreen(INSTRUMENTS)
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    for symbol in [*INSTRUMENTS, "XAUUSDT"]:  # XAU again: once every table has a mark
        screen.candidates(symbol, marks[symbol])
    assert screen.tables["XAUUSDT"].radius > 0
    risen = marks | {"BTCUSDT": marks["BTCUSDT"] * 105 // 100}
    screen.candidates("BTCUSDT", risen["BTCUSDT"])
    edge = Account("edge")
    for symbol, lots in (("BTCUSDT", 3_000), ("XAUUSDT", 3_000)):
        edge.position(symbol).apply_fill(lots, risen[symbol],
                                         INSTRUMENTS[symbol].cash_per_tick_lot)
    health = cross_health(edge, INSTRUMENTS, risen)
    notional = sum(abs(p.qty) * risen[s] * INSTRUMENTS[s].cash_per_tick_lot
                   for s, p in edge.positions.items())
    edge.wallet = health.maintenance - health.equity + notional * 3 // 1_000
    accounts["edge"] = edge
    screen.dirty.add("edge")
    screen.refresh(accounts)
    assert not failing(accounts, "XAUUSDT", risen)
    assert "edge" in failing(accounts, "XAUUSDT", marks), "back at the old BTC mark it fails"
    assert "edge" in screen.candidates("BTCUSDT", marks["BTCUSDT"])
    assert "edge" in screen.candidates("XAUUSDT", marks["XAUUSDT"])


def test_a_watch_that_outgrows_its_limit_sends_the_table_to_a_full_sweep(monkeypatch):
    """Re-read holders that the radius does not cover join the watch, up to WATCH_LIMIT; one
    more and the next sweep is a full one, which names them all and picks the watch afresh
    (at most WATCHED holders)."""
    monkeypatch.setattr(sweep, "WATCH_LIMIT", sweep.WATCHED + 2)
    rng = random.Random(5)
    marks = dict(ENTRY)
    accounts = healthy_accounts(rng, 120, marks)
    screen = MarginScreen(INSTRUMENTS)
    screen.dirty.update(accounts)
    screen.refresh(accounts)
    for symbol in [*INSTRUMENTS, "BTCUSDT"]:  # BTC again: once every table has a mark
        screen.candidates(symbol, marks[symbol])
    table = screen.tables["BTCUSDT"]
    assert table.radius > 0 and len(table.watch) == sweep.WATCHED
    pushed = [name for name in table.owners if name not in table.watch][:3]
    for count, name in enumerate(pushed, start=1):
        push_below_maintenance(accounts[name], "BTCUSDT", marks, extra=10**10)  # 100 USDT
        screen.dirty.add(name)
        screen.refresh(accounts)
        assert (table.radius > 0) == (count < 3), "the third one overflows the watch"
    moved = marks["BTCUSDT"] + 1
    assert set(pushed) <= set(screen.candidates("BTCUSDT", moved))
    assert table.mark == moved, "a full sweep"
    assert len(table.watch) == sweep.WATCHED
