"""Matching-path benchmarks: every call goes through ``Exchange.execute`` with its margin
checks, as a real client's order would. Each timed call does a batch of work (milliseconds),
and every benchmark asserts on its result: a fast wrong answer is a failure.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.conftest import SYMBOL, book_with, fresh_exchange, opening_commands, resting_orders
from engine import Exchange
from engine.commands import CancelOrder, PlaceOrder
from engine.enums import OrderType, Side
from engine.protocol import encode_command, run

SIZES = [100, 1_000, 10_000]


@pytest.mark.benchmark(group="book.place_resting")
@pytest.mark.parametrize("count", SIZES)
def test_place_resting_orders(benchmark, count):
    orders = resting_orders(count)

    def place_all(exchange):
        for order in orders:
            exchange.execute(order)
        return exchange

    exchange = benchmark.pedantic(place_all, setup=lambda: ((fresh_exchange(),), {}), rounds=5)
    book = exchange.books[SYMBOL]
    assert len(book.orders) == count, "every order rests: none refused, none crossed"
    book.check_invariants()


@pytest.mark.benchmark(group="book.sweep")
@pytest.mark.parametrize("count", SIZES)
def test_market_order_sweeps_the_asks(benchmark, count):
    """A market buy for the whole ask side (within the band) of a book of ``count`` orders."""
    orders = resting_orders(count)
    asks = sum(o.qty for o in orders if o.side == "sell")
    sweep = PlaceOrder(account="taker", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                       qty=min(asks, Decimal(5000)))

    def run_sweep(exchange):
        return exchange.execute(sweep)

    events = benchmark.pedantic(run_sweep, setup=lambda: ((book_with(orders),), {}), rounds=5)
    assert sum(1 for e in events if type(e).__name__ == "Trade") > 0


@pytest.mark.benchmark(group="book.cancel")
@pytest.mark.parametrize("count", SIZES)
def test_cancel_every_order(benchmark, count):
    orders = resting_orders(count)

    def cancel_all(exchange):
        for order_id, order in list(exchange.books[SYMBOL].orders.items()):
            exchange.execute(CancelOrder(account=order.account, order_id=order_id))
        return exchange

    exchange = benchmark.pedantic(cancel_all, setup=lambda: ((book_with(orders),), {}), rounds=5)
    assert not exchange.books[SYMBOL].orders


@pytest.mark.benchmark(group="protocol.exec")
def test_exec_a_session_of_json_lines(benchmark):
    """Decode, execute and render 2 000 order lines, as ``perpsim exec`` does."""
    lines = [encode_command(c) for c in opening_commands() + resting_orders(2_000)]

    def execute():
        return list(run(Exchange(), lines))

    out = benchmark.pedantic(execute, rounds=5)
    assert len(out) == 1 + 101 + 2_000, "one mark, 101 deposits, one event per order"
