"""Per-entry costs that DESIGN.md §3.1 says must not depend on unrelated state: placing an
order next to many open orders of the same account, an index tick over many resting stops
that do not fire, and a maker's 10-order re-quote. Every call goes through
``Exchange.execute``; each timed call does a batch and leaves the state as it found it, and
every benchmark asserts on its result.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine import Exchange
from engine.commands import (
    AdvanceTime,
    CancelAll,
    CancelOrder,
    Deposit,
    PlaceOrder,
    SetIndex,
)
from engine.enums import OrderType, Side
from engine.events import Accepted, Cancelled, Rejected, Triggered
from engine.unit_commands import ReplaceLadder

SYMBOL = "XAGUSDT"
MID = Decimal("78.50")
CENT = Decimal("0.01")
BATCH = 20


def opened(*accounts: str) -> Exchange:
    exchange = Exchange()
    for command in [AdvanceTime(ts="2026-01-07T10:00:00Z"), SetIndex(symbol=SYMBOL, price=MID)]:
        exchange.execute(command)
    for account in accounts:
        exchange.execute(Deposit(account=account, amount=Decimal(10**9)))
    return exchange


def limit(account: str, side: Side, price: Decimal, qty: Decimal = Decimal(1)) -> PlaceOrder:
    return PlaceOrder(account=account, symbol=SYMBOL, side=side, type=OrderType.LIMIT,
                      qty=qty, price=price)


@pytest.mark.benchmark(group="entry.place_next_to_open_orders")
@pytest.mark.parametrize("open_orders", [10, 1_000, 5_000])
def test_place_with_open_orders(benchmark, open_orders):
    """``BATCH`` place + cancel pairs of one limit order on an account holding
    ``open_orders`` resting orders (1 oz each, bids and asks over 300 levels)."""
    exchange = opened("m")
    for n in range(open_orders):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        price = 7850 + (-1 if side is Side.BUY else 1) * (50 + n // 2 % 300)
        assert isinstance(exchange.execute(limit("m", side, price * CENT))[0], Accepted)
    exchange.check_invariants()
    order = limit("m", Side.BUY, Decimal("78.00"))

    def place_and_cancel():
        for _ in range(BATCH):
            accepted = exchange.execute(order)[0]
            assert isinstance(accepted, Accepted)
            cancelled = exchange.execute(CancelOrder(account="m", order_id=accepted.order_id))
            assert isinstance(cancelled[0], Cancelled)
        return exchange

    benchmark.pedantic(place_and_cancel, rounds=15)
    assert len(exchange.accounts["m"].orders) == open_orders
    assert len(exchange.books[SYMBOL].orders) == open_orders


@pytest.mark.benchmark(group="entry.index_tick_over_stops")
@pytest.mark.parametrize("stops", [0, 1_000, 5_000])
def test_index_tick_with_resting_stops(benchmark, stops):
    """``BATCH`` index ticks (78.50 <-> 78.51) with ``stops`` stop-market orders resting,
    triggers 5-15 % away: none fires."""
    accounts = [f"s{n}" for n in range(100)]
    exchange = opened(*accounts)
    for n in range(stops):
        is_buy = n % 2 == 0
        away = CENT * (400 + n % 800)
        assert isinstance(exchange.execute(PlaceOrder(
            account=accounts[n % 100], symbol=SYMBOL, side=Side.BUY if is_buy else Side.SELL,
            type=OrderType.STOP_MARKET, qty=Decimal(1),
            trigger_price=MID + away if is_buy else MID - away))[0], Accepted)
    ticks = [SetIndex(symbol=SYMBOL, price=MID + CENT * (n % 2)) for n in range(1, BATCH + 1)]

    def tick():
        fired = 0
        for command in ticks:
            fired += sum(1 for e in exchange.execute(command) if isinstance(e, Triggered))
        return fired

    assert benchmark.pedantic(tick, rounds=5) == 0
    assert len(exchange.conditional[SYMBOL]) == stops
    assert exchange.index[SYMBOL] == 7850


def book_of_other_makers() -> Exchange:
    """The quoting account q beside 1 000 orders of ten other makers, 20-119 cents out."""
    exchange = opened("q", *[f"o{n}" for n in range(10)])
    for n in range(1_000):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        distance = CENT * (20 + n // 2 % 100)
        exchange.execute(limit(f"o{n % 10}", side,
                               MID - distance if side is Side.BUY else MID + distance))
    return exchange


@pytest.mark.benchmark(group="entry.requote")
def test_requote_ten_orders(benchmark):
    """``BATCH`` re-quotes of a maker: cancel_all on the symbol + 5 bids and 5 asks, the
    ladder alternating by a tick, over a book holding 1 000 orders of other makers."""
    exchange = book_of_other_makers()
    ladders = [[CancelAll(account="q", symbol=SYMBOL)]
               + [limit("q", side, MID - CENT * (2 + k + shift) if side is Side.BUY
                        else MID + CENT * (2 + k + shift), Decimal(10))
                  for side in (Side.BUY, Side.SELL) for k in range(5)]
               for shift in (0, 1)]

    def requote():
        for n in range(BATCH):
            for command in ladders[n % 2]:
                event = exchange.execute(command)
                assert not event or type(event[0]).__name__ != "Rejected"
        return exchange

    benchmark.pedantic(requote, rounds=5)
    assert len(exchange.accounts["q"].orders) == 10
    assert len(exchange.books[SYMBOL].orders) == 1_010
    exchange.check_invariants()


@pytest.mark.benchmark(group="entry.requote")
def test_ladder_replace_ten_orders(benchmark):
    """The same re-quotes as ``test_requote_ten_orders`` as one ``ReplaceLadder`` each (engine
    units): unchanged levels keep their orders, one margin check."""
    exchange = book_of_other_makers()
    mid, lots = 7850, 10_000
    ladders = [ReplaceLadder(account="q", symbol=SYMBOL,
                             bids=tuple((mid - 2 - k - shift, lots) for k in range(5)),
                             asks=tuple((mid + 2 + k + shift, lots) for k in range(5)))
               for shift in (0, 1)]

    def requote():
        for n in range(BATCH):
            events = exchange.execute(ladders[n % 2])
            assert events and not isinstance(events[0], Rejected)
        return exchange

    benchmark.pedantic(requote, rounds=5)
    assert len(exchange.accounts["q"].orders) == 10
    assert len(exchange.books[SYMBOL].orders) == 1_010
    exchange.check_invariants()
