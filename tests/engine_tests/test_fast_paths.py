"""The fast paths of order entry against the general path they stand in for.

Setup: two exchanges take the same seeded stream of int-unit commands (limits of every flag
and time in force, some crossing, some refused for margin, band, tier, size or a duplicate
client id; market orders; cancels; amends; index moves large enough to make closes hit the
bankruptcy cap and accounts fail). One runs as shipped; in the other every fast path is
switched off, so each command takes the general path. The events of every command and the
state hash after it must be identical, with every event built and with only trades and
rejections built (``select_events``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest
from test_sweep import ENTRY, INSTRUMENTS, random_account
from two_tier import MID, START_NS, two_tier

from engine import Exchange, OrderType, Side
from engine import events as ev
from engine import unit_commands as u
from engine.enums import StpMode, TimeInForce
from engine.margin import (
    bankruptcy_ticks,
    collateral,
    collateral_behind,
    cross_fails,
    cross_health,
    solve_price,
)

SYMBOL = "XFAST"
ACCOUNTS = [f"t{n}" for n in range(8)]


def switch_off_fast_paths(exchange: Exchange) -> None:
    """Every command on the general path (the fast paths are instance-level shortcuts)."""
    exchange.entry._place_quiet_limit = lambda cmd: False  # type: ignore[method-assign]


def new_pair(selected: list[type[ev.Event]] | None) -> tuple[Exchange, Exchange]:
    pair = []
    for fast in (True, False):
        exchange = Exchange(two_tier(SYMBOL))
        if not fast:
            switch_off_fast_paths(exchange)
        exchange.execute(u.AdvanceTime(ts=START_NS))
        for n, account in enumerate(ACCOUNTS):
            # poor accounts are refused for margin, rich ones for the tier
            exchange.execute(u.Deposit(account=account, amount=(20 + 400 * n) * 10**8))
            exchange.execute(u.SetLeverage(account=account, symbol=SYMBOL,
                                           leverage=(5, 20, 50)[n % 3]))
        exchange.execute(u.SetIndex(symbol=SYMBOL, price=MID))
        exchange.select_events(selected)
        pair.append(exchange)
    return pair[0], pair[1]


def random_command(rng: random.Random, mark: int, placed: int,
                   band: Callable[[bool], int]) -> u.UnitCommand:
    """``band(is_buy)``: the furthest price of that side the band allows now."""
    account = rng.choice(ACCOUNTS)
    r = rng.random()
    if r < 0.55:
        is_buy = rng.random() < 0.5
        offset = rng.choice([rng.randint(-30, 400), rng.randint(-30, 40), 6_000])
        price = mark - offset if is_buy else mark + offset
        if rng.random() < 0.05:  # at the band's edge, or a tick either side of it
            price = band(is_buy) + rng.choice([-1, 0, 1])
        return u.PlaceOrder(
            account=account, symbol=SYMBOL, side=Side.BUY if is_buy else Side.SELL,
            type=OrderType.LIMIT, qty=rng.choice([1, 10, 100, 1_000, 5_000, 20_000, 50_000]),
            price=price,
            tif=rng.choice([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK]),
            post_only=rng.random() < 0.05, reduce_only=rng.random() < 0.08,
            client_id=rng.choice([None] * 6 + ["c1", "c2"]),
            stp=rng.choice([StpMode.EXPIRE_MAKER, StpMode.EXPIRE_TAKER]))
    if r < 0.65:
        return u.PlaceOrder(account=account, symbol=SYMBOL,
                            side=rng.choice([Side.BUY, Side.SELL]), type=OrderType.MARKET,
                            qty=rng.choice([10, 200, 3_000]),
                            reduce_only=rng.random() < 0.2)
    if r < 0.85:
        return u.CancelOrder(account=account, order_id=rng.randint(max(1, placed - 40),
                                                                    placed + 1))
    if r < 0.9:
        return u.AmendOrder(account=account, order_id=rng.randint(max(1, placed - 40),
                                                                   placed + 1),
                            qty=rng.choice([None, 5, 500]),
                            price=rng.choice([None, mark - 20, mark + 20]))
    return u.SetIndex(symbol=SYMBOL, price=max(1, mark + rng.choice([-1, 1]) * rng.choice(
        [10, 300, 2_000, 8_000])))


@pytest.mark.parametrize("selected", [None, [ev.Trade, ev.Rejected]], ids=["all", "some"])
@pytest.mark.parametrize("seed", range(6))
def test_fast_paths_match_the_general_path(seed: int, selected) -> None:
    rng = random.Random(seed)
    fast, general = new_pair(selected)
    seen: dict[str, int] = {}
    for step in range(1_500):
        mark = fast.mark[SYMBOL] or MID
        command = random_command(rng, mark, fast.next_order_id,
                                 lambda is_buy, mark=mark: fast.entry.band(
                                     fast.instruments[SYMBOL], is_buy, mark))
        got, want = fast.execute(command), general.execute(command)
        assert got == want, f"step {step}: {command}"
        assert fast.state_hash() == general.state_hash(), f"step {step}: {command}"
        for event in want:
            name = type(event).__name__
            if name == "Rejected":
                name = event.reason.value
            seen[name] = seen.get(name, 0) + 1
        if step % 100 == 0:
            fast.check_invariants()
            for account in fast.accounts.values():  # the lean solvency input, against its oracle
                for symbol in account.positions:
                    assert collateral(account, symbol, fast.instruments, fast.mark) == (
                        collateral_behind(account, symbol, fast.instruments, fast.mark)[0])
    fast.check_invariants()
    # the stream reaches the refusals the fast path hands back to the general one
    if selected is None:
        for kind in ("Accepted", "Fill", "Cancelled", "insufficient_margin",
                     "price_out_of_band", "below_min_notional"):
            assert seen.get(kind, 0) > 0, (kind, seen)


def test_collateral_is_collateral_behind_without_the_maintenance() -> None:
    """Setup: random accounts over the default instruments, cross and isolated positions,
    marks away from the entries: the lean solvency input equals its oracle's first half."""
    rng = random.Random(5)
    for n in range(300):
        account = random_account(rng, f"r{n}", ENTRY)
        marks = {s: max(1, int(m * rng.uniform(0.8, 1.2))) for s, m in ENTRY.items()}
        for symbol in account.positions:
            assert collateral(account, symbol, INSTRUMENTS, marks) == (
                collateral_behind(account, symbol, INSTRUMENTS, marks)[0])


def test_cross_fails_is_the_cross_health_test() -> None:
    """Setup: random accounts over the default instruments (cross and isolated positions,
    wallets from zero to 15 % of the notional, marks up to 20 % from the entries, so that
    about half fail): the lean test after a fill agrees with ``cross_health`` every time."""
    rng = random.Random(6)
    verdicts = []
    for n in range(600):
        account = random_account(rng, f"r{n}", ENTRY)
        marks = {s: max(1, int(m * rng.uniform(0.8, 1.2))) for s, m in ENTRY.items()}
        if n % 10 == 0:  # on the boundary: equity exactly the maintenance margin fails
            health = cross_health(account, INSTRUMENTS, marks)
            account.wallet += health.maintenance - health.equity
        verdict = cross_health(account, INSTRUMENTS, marks).is_liquidatable
        assert cross_fails(account, INSTRUMENTS, marks) is verdict, account.id
        verdicts.append(verdict)
    assert 100 < sum(verdicts) < 500, sum(verdicts)  # both outcomes, often


def closing_command(rng: random.Random, exchange: Exchange) -> u.UnitCommand:
    """Mostly a limit on the side that closes the account's position, priced so that it
    cannot trade, from an account with no order resting on the symbol (about half the time):
    sized to close part, all or more than all of the position, IOC or GTC; with the opens,
    the withdrawals, the cancels, the big index moves and a deep-pocketed maker's quotes
    that make such closes reach the bankruptcy price and the margin limit."""
    mark = exchange.mark[SYMBOL] or MID
    book = exchange.books[SYMBOL]
    account = rng.choice(ACCOUNTS[:-1])
    r = rng.random()
    if r < 0.15:  # an open of up to about all the account can afford: near its bankruptcy
        trader = exchange.accounts[account]
        leverage = trader.leverage.get(SYMBOL, 20)
        per_lot = exchange.instruments[SYMBOL].cash_per_tick_lot
        affordable = trader.wallet * leverage // (mark * per_lot)
        return u.PlaceOrder(account=account, symbol=SYMBOL,
                            side=rng.choice([Side.BUY, Side.SELL]), type=OrderType.MARKET,
                            qty=max(10, int(affordable * rng.uniform(0.3, 0.95))))
    if r < 0.2:
        maker = ACCOUNTS[-1]
        is_buy = rng.random() < 0.5
        offset = rng.randint(1, 200)
        return u.PlaceOrder(account=maker, symbol=SYMBOL, side=Side.BUY if is_buy else Side.SELL,
                            type=OrderType.LIMIT, qty=rng.choice([100, 1_000, 5_000]),
                            price=mark - offset if is_buy else mark + offset)
    if r < 0.35:  # the maker's quotes too: closes then meet a thin book far from the mark
        return u.CancelAll(account=rng.choice(ACCOUNTS), symbol=SYMBOL)
    if r < 0.4:  # all it can: the position is left near its bankruptcy price
        free = exchange.view_account(account).max_withdraw
        if free > 0:
            return u.Withdraw(account=account, amount=free)
        return u.Deposit(account=account, amount=rng.choice([50, 500]) * 10**8)
    if r < 0.45:
        return u.SetIndex(symbol=SYMBOL, price=max(1, mark + rng.choice([-1, 1]) * rng.choice(
            [30, 300, 3_000, 9_000])))
    held = exchange.accounts[account].position_qty(SYMBOL)
    is_buy = held < 0 if held else rng.random() < 0.5
    # up to 8 % through the mark (beyond a 50x bankruptcy price), short of the opposite
    # best, so that it rests or expires
    through = rng.randint(-600, 8_000)
    best = book.best_ask() if is_buy else book.best_bid()
    if is_buy:
        price = mark + through if best is None else min(mark + through, best - 1)
    else:
        price = mark - through if best is None else max(mark - through, best + 1)
    qty = max(1, int(abs(held) * rng.choice([0.3, 1, 1.4, 3])) if held else 100)
    return u.PlaceOrder(account=account, symbol=SYMBOL, side=Side.BUY if is_buy else Side.SELL,
                        type=OrderType.LIMIT, qty=qty, price=max(1, price),
                        tif=rng.choice([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.IOC]))


@pytest.mark.parametrize("selected", [None, [ev.Trade, ev.Rejected]], ids=["all", "some"])
@pytest.mark.parametrize("seed", range(4))
def test_closes_that_cannot_trade_match_the_general_path(seed: int, selected) -> None:
    rng = random.Random(100 + seed)
    fast, general = new_pair(selected)
    for exchange in (fast, general):  # 50x: a bankruptcy price within the band
        for account in ACCOUNTS[:-1]:
            exchange.execute(u.SetLeverage(account=account, symbol=SYMBOL, leverage=50))
    seen: dict[str, int] = {}
    for step in range(1_500):
        command = closing_command(rng, fast)
        got, want = fast.execute(command), general.execute(command)
        assert got == want, f"step {step}: {command}"
        assert fast.state_hash() == general.state_hash(), f"step {step}: {command}"
        for event in want:
            name = type(event).__name__
            reason = getattr(event, "reason", None)
            seen[name if reason is None else reason.value] = seen.get(
                name if reason is None else reason.value, 0) + 1
    fast.check_invariants()
    if selected is None:  # the stream's reach
        for kind in ("bankruptcy_price", "ioc_remainder", "insufficient_margin", "Fill"):
            assert seen.get(kind, 0) > 0, (kind, seen)


def test_bankruptcy_ticks_is_the_solved_price_rounded_to_the_solvent_tick() -> None:
    """Setup: random accounts over the default instruments, collateral from deep in deficit
    to far above the cost: the integer bankruptcy tick equals the exact ``Fraction`` solution
    rounded up for a long and down for a short, and is None exactly where that is."""
    rng = random.Random(7)
    seen = {"long": 0, "short": 0, "none": 0}
    for n in range(400):
        account = random_account(rng, f"r{n}", ENTRY)
        for symbol, position in account.positions.items():
            instrument = INSTRUMENTS[symbol]
            held = collateral(account, symbol, INSTRUMENTS, ENTRY) + rng.randint(
                -position.cost, position.cost)
            if n % 10 == 0:  # on the boundary: the collateral covers the cost exactly
                held = position.cost if position.qty > 0 else -position.cost
            price = solve_price(instrument, position, held, 0, False)
            want = None if price is None else (
                math.ceil(price) if position.qty > 0 else math.floor(price))
            assert bankruptcy_ticks(instrument, position, held) == want, (position, held)
            seen["none" if want is None else "long" if position.qty > 0 else "short"] += 1
    assert min(seen.values()) > 20, seen
