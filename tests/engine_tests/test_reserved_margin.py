"""The running totals of resting orders (engine/reserve.py) against the naive oracle.

A hypothesis state machine drives one exchange through places (limit, market, IOC, post-only,
reduce-only, stops that fire), cancels, cancel-alls, amends, ladder replaces, leverage changes,
index moves, deposits and withdrawals, with small wallets so that margin refuses and
positions flip. After every step, for every account, the kept order margin, closing loss and tier
reach are compared with ``margin.order_initial_margin``, ``margin.closing_loss`` and a sum over
the orders, at the mark and at marks on both sides of every resting price (so the loss of an
order priced through the mark is exercised too). A second test corrupts the totals and sees
the comparison fire.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engine import Exchange
from engine import commands as c
from engine import unit_commands as u
from engine.account import Position
from engine.enums import OrderType, Side, TimeInForce
from engine.errors import InvariantViolation
from engine.instrument import default_instruments, parse_instruments
from engine.margin import (
    available_balance,
    closing_loss,
    order_initial_margin,
    resting_shapes,
    solve_price,
    solvent_at,
    summarize,
)
from engine.reserve import Ladder, check_reserve

SYMBOL = "TESTUSDT"
INSTRUMENTS = f"""
[[instrument]]
symbol = "{SYMBOL}"
tick_size = 0.01
lot_size = 0.001
min_qty = 0.001
max_qty = 1000
max_market_qty = 1000
min_notional = 0
maker_fee = 0.0002
taker_fee = 0.0005
clearance_fee = 0.01
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = 0.05
mark_method = "index"
default_leverage = 10
tiers = [{{ notional_floor = 0, notional_cap = 60, max_leverage = 20, mmr = 0.01 }},
         {{ notional_floor = 60, notional_cap = 100000000, max_leverage = 5, mmr = 0.05 }}]
"""
BTC = default_instruments()["BTCUSDT"]
ACCOUNTS = ("a", "b", "c")
INDEX = 100
"""Starting index in ticks (1.00); it moves over 90..110, so resting orders end up on either
side of the mark."""

accounts = st.sampled_from(ACCOUNTS)
sides = st.sampled_from([Side.BUY, Side.SELL])
prices = st.integers(90, 110)
lots = st.integers(1, 20_000)


def compare(exchange: Exchange) -> None:
    """The kept figures against the oracle, at the mark and around every resting price."""
    for account in exchange.accounts.values():
        check_reserve(account, exchange.instruments, exchange.mark)
        instrument = exchange.instruments[SYMBOL]
        reserve = account.reserve_on(SYMBOL)
        shapes = resting_shapes(account, SYMBOL)
        qty = account.position_qty(SYMBOL)
        marks = {exchange.mark[SYMBOL] or INDEX}
        marks.update(p + d for _, p, _ in shapes for d in (-1, 0, 1))
        for mark in sorted(marks):
            for leverage in (1, 7):
                assert reserve.order_margin(instrument, qty, mark, leverage) == (
                    order_initial_margin(instrument, shapes, qty, mark, leverage)), (
                    f"{account.id}: order margin at mark {mark}, {leverage}x")
            assert reserve.closing_loss(instrument, qty, mark) == closing_loss(
                instrument, account, SYMBOL, qty, mark), f"{account.id}: closing loss at {mark}"
            for is_buy, price, lots_added in [(b, mark + d, n) for b in (True, False)
                                              for d in (-2, 0, 2) for n in (1, 3_000)]:
                leverage = 7
                assert reserve.order_cost(instrument, qty, mark, leverage, is_buy, price,
                                          lots_added) == (
                    order_initial_margin(instrument, shapes, qty, mark, leverage),
                    order_initial_margin(instrument, [*shapes, (is_buy, price, lots_added)],
                                         qty, mark, leverage)), (
                    f"{account.id}: cost of {lots_added} @ {price} at mark {mark}")
        marks_now = exchange.mark
        summary = summarize(account, exchange.instruments, marks_now)
        assert available_balance(account, exchange.instruments, marks_now) == (
            summary.available_balance), f"{account.id}: available balance"
        if marks_now[SYMBOL] is not None:
            assert available_balance(account, exchange.instruments, marks_now, SYMBOL,
                                     summary.order_margin) == summary.available_balance


class ReserveMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.exchange = Exchange(parse_instruments(INSTRUMENTS))
        self.exchange.execute(c.AdvanceTime(ts="2026-01-07T10:00:00Z"))
        self.run(u.SetIndex(symbol=SYMBOL, price=INDEX))
        for account in ACCOUNTS:
            self.exchange.execute(c.Deposit(account=account, amount=Decimal(5)))
        self.index = INDEX

    def run(self, command: u.UnitCommand) -> None:
        self.exchange.execute(command)

    def order_of(self, account: str, pick: int) -> int:
        ids = sorted(self.exchange.accounts[account].orders)
        return ids[pick % len(ids)] if ids else pick

    @rule(account=accounts, side=sides, price=prices, qty=lots,
          tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
          reduce_only=st.booleans(), post_only=st.booleans())
    def place_limit(self, account, side, price, qty, tif, reduce_only, post_only):
        self.run(u.PlaceOrder(account=account, symbol=SYMBOL, side=side, type=OrderType.LIMIT,
                              qty=qty, price=price, tif=tif, reduce_only=reduce_only,
                              post_only=post_only and tif is TimeInForce.GTC))

    @rule(account=accounts, side=sides, qty=lots, reduce_only=st.booleans())
    def place_market(self, account, side, qty, reduce_only):
        self.run(u.PlaceOrder(account=account, symbol=SYMBOL, side=side, type=OrderType.MARKET,
                              qty=qty, reduce_only=reduce_only))

    @rule(account=accounts, side=sides, qty=lots, price=prices, away=st.integers(1, 6),
          reduce_only=st.booleans())
    def place_stop_limit(self, account, side, qty, price, away, reduce_only):
        trigger = self.index + away if side is Side.BUY else self.index - away
        self.run(u.PlaceOrder(account=account, symbol=SYMBOL, side=side,
                              type=OrderType.STOP_LIMIT, qty=qty, price=price,
                              trigger_price=trigger, reduce_only=reduce_only))

    @rule(account=accounts, pick=st.integers(0, 50))
    def cancel(self, account, pick):
        self.run(u.CancelOrder(account=account, order_id=self.order_of(account, pick)))

    @rule(account=accounts)
    def cancel_all(self, account):
        self.run(u.CancelAll(account=account, symbol=SYMBOL))

    @rule(account=accounts, pick=st.integers(0, 50), qty=st.none() | lots,
          price=st.none() | prices)
    def amend(self, account, pick, qty, price):
        if qty is None and price is None:
            qty = 1
        self.run(u.AmendOrder(account=account, order_id=self.order_of(account, pick), qty=qty,
                              price=price))

    @rule(account=accounts, bids=st.lists(st.tuples(st.integers(90, 99), lots), max_size=4),
          asks=st.lists(st.tuples(st.integers(101, 110), lots), max_size=4))
    def ladder(self, account, bids, asks):
        self.run(u.ReplaceLadder(account=account, symbol=SYMBOL,
                                 bids=tuple(dict(bids).items()), asks=tuple(dict(asks).items())))

    @rule(account=accounts, leverage=st.sampled_from([1, 2, 5, 10, 20, 20]))
    def leverage(self, account, leverage):
        self.run(u.SetLeverage(account=account, symbol=SYMBOL, leverage=leverage))

    @rule(price=st.integers(90, 110))
    def move_index(self, price):
        self.index = price
        self.run(u.SetIndex(symbol=SYMBOL, price=price))

    @rule(account=accounts, amount=st.integers(1, 3))
    def deposit(self, account, amount):
        self.exchange.execute(c.Deposit(account=account, amount=Decimal(amount)))

    @rule(account=accounts, amount=st.integers(1, 5))
    def withdraw(self, account, amount):
        self.exchange.execute(c.Withdraw(account=account, amount=Decimal(amount)))

    @invariant()
    def totals_match_the_oracle(self):
        self.exchange.check_invariants()
        compare(self.exchange)


TestReserveMachine = ReserveMachine.TestCase
TestReserveMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def busy() -> Exchange:
    """An account with plain and reduce-only orders on both sides of a short position."""
    exchange = Exchange(parse_instruments(INSTRUMENTS))
    exchange.execute(c.AdvanceTime(ts="2026-01-07T10:00:00Z"))
    exchange.execute(u.SetIndex(symbol=SYMBOL, price=INDEX))
    for account in ("a", "b"):
        exchange.execute(c.Deposit(account=account, amount=Decimal(1000)))
    for account, side, price, qty, reduce_only in (
            ("b", Side.BUY, 100, 3_000, False), ("a", Side.SELL, 100, 3_000, False),
            ("a", Side.BUY, 103, 1_000, True), ("a", Side.BUY, 98, 2_000, False),
            ("a", Side.BUY, 97, 2_000, False), ("a", Side.SELL, 106, 1_500, False)):
        exchange.execute(u.PlaceOrder(account=account, symbol=SYMBOL, side=side,
                                      type=OrderType.LIMIT, qty=qty, price=price,
                                      reduce_only=reduce_only))
    exchange.execute(u.SetIndex(symbol=SYMBOL, price=102))  # the reduce-only buy is through it
    exchange.check_invariants()
    assert exchange.accounts["a"].position_qty(SYMBOL) == -3_000
    assert len(exchange.accounts["a"].orders) == 4, "every order of a rests"
    return exchange


def _corrupt_level(exchange: Exchange) -> None:
    exchange.accounts["a"].reserves[SYMBOL].plain[True].lots[98] += 1


def _corrupt_total(exchange: Exchange) -> None:
    exchange.accounts["a"].reserves[SYMBOL].plain[False].total += 1


def _corrupt_value(exchange: Exchange) -> None:
    exchange.accounts["a"].reserves[SYMBOL].plain[True].value -= 97


def _corrupt_closing(exchange: Exchange) -> None:
    exchange.accounts["a"].reserves[SYMBOL].reducing[True].lots[103] -= 1


def _corrupt_level_and_record(exchange: Exchange) -> None:
    """Ladder and record agree with each other, not with the order: the oracle fires."""
    reserve = exchange.accounts["a"].reserves[SYMBOL]
    order_id = next(i for i, shape in reserve.held.items() if shape[:2] == (True, 98))
    shape = reserve.held[order_id]
    reserve._apply(shape, -1)
    reserve.held[order_id] = shape = (True, 98, shape[2] + 1_500, False)
    reserve._apply(shape, 1)


def _corrupt_closing_and_record(exchange: Exchange) -> None:
    reserve = exchange.accounts["a"].reserves[SYMBOL]
    order_id = next(i for i, shape in reserve.held.items() if shape[:2] == (True, 103))
    shape = reserve.held[order_id]
    reserve._apply(shape, -1)
    reserve.held[order_id] = shape = (True, 103, shape[2] - 500, True)
    reserve._apply(shape, 1)


def _forget_order(exchange: Exchange) -> None:
    reserve = exchange.accounts["a"].reserves[SYMBOL]
    reserve.held.pop(max(reserve.held))


def _miss_a_fill(exchange: Exchange) -> None:
    order = exchange.books[SYMBOL].orders[max(exchange.accounts["a"].reserves[SYMBOL].held)]
    order.filled += 1
    side = exchange.books[SYMBOL].bids if order.is_buy else exchange.books[SYMBOL].asks
    side.by_price[order.price].qty -= 1  # the book stays sound: only the totals are stale


CORRUPTIONS = [
    ("not the sum", _corrupt_level),
    ("not the sum", _corrupt_total),
    ("not the sum", _corrupt_value),
    ("not the sum", _corrupt_closing),
    ("holds", _corrupt_level_and_record),
    ("holds", _corrupt_closing_and_record),
    ("counts", _forget_order),
    ("holds", _miss_a_fill),
]


@pytest.mark.parametrize("match, corrupt", CORRUPTIONS,
                         ids=[f.__name__.strip("_") for _, f in CORRUPTIONS])
def test_a_stale_total_is_caught(match, corrupt):
    exchange = busy()
    compare(exchange)
    corrupt(exchange)
    with pytest.raises(InvariantViolation, match=match):
        exchange.check_invariants()



@pytest.mark.parametrize("method, match", [("opening_reserve", "order margin"),
                                           ("closing_loss", "closing loss")])
def test_a_wrong_formula_is_caught(monkeypatch, method, match):
    """Totals that agree with the orders but a formula that is off by one: the oracle fires."""
    exchange = busy()
    original = getattr(Ladder, method)
    monkeypatch.setattr(Ladder, method, lambda self, *args: original(self, *args) + 1)
    with pytest.raises(InvariantViolation, match=match):
        exchange.check_invariants()


def exact_bankruptcy_tick(position: Position, collateral: int, mark: int) -> int:
    """``LiquidationEngine._bankruptcy_tick`` on given collateral (its rounding, restated)."""
    price = solve_price(BTC, position, collateral, 0, False)
    if price is None:
        return 1 if position.qty > 0 else mark
    return max(1, math.ceil(price) if position.qty > 0 else math.floor(price))


@given(qty=st.integers(-10**6, 10**6).filter(bool), entry=st.integers(1, 2_000_000),
       collateral=st.integers(-10**12, 10**12), limit=st.integers(1, 2_000_000),
       mark=st.integers(1, 2_000_000))
@settings(max_examples=3_000)
def test_solvent_at_never_skips_a_cap(qty, entry, collateral, limit, mark):
    """Where ``solvent_at`` lets a closing order skip the solver, the solver would not have
    capped its limit; where it does not, the solver decides (exchange._execute)."""
    position = Position()
    position.apply_fill(qty, entry, BTC.cash_per_tick_lot)
    bankruptcy = exact_bankruptcy_tick(position, collateral, mark)
    capped = bankruptcy > limit if qty > 0 else bankruptcy < limit
    if solvent_at(BTC, position, collateral, limit):
        assert not capped, f"bankruptcy {bankruptcy} is beyond {limit}"
