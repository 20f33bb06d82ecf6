"""Seeded builders shared by the benchmarks (run them with ``pytest bench``)."""

from __future__ import annotations

import random
from decimal import Decimal

from engine import Exchange
from engine.commands import AdvanceTime, Deposit, PlaceOrder, SetIndex
from engine.enums import OrderType, Side

SYMBOL = "XAGUSDT"
MID = Decimal("78.50")
TICK = Decimal("0.01")


MAKERS = 100
"""Enough accounts that no single maker reaches a margin tier that refuses 20x."""


def opening_commands(makers: int = MAKERS) -> list:
    """Silver at 78.50 and ``makers`` well-funded accounts m0, m1, ... plus a taker."""
    return [AdvanceTime(ts="2026-01-07T10:00:00Z"), SetIndex(symbol=SYMBOL, price=MID)] + [
        Deposit(account=name, amount=Decimal(10**9))
        for name in [f"m{n}" for n in range(makers)] + ["taker"]]


def fresh_exchange() -> Exchange:
    exchange = Exchange()
    for command in opening_commands():
        exchange.execute(command)
    return exchange


def resting_orders(count: int, seed: int = 7, levels: int = 200) -> list[PlaceOrder]:
    """Limit orders that rest without crossing: bids below the mid, asks above, ``levels``
    ticks deep on each side, sizes 1-50 oz."""
    rng = random.Random(seed)
    orders = []
    for _ in range(count):
        is_buy = rng.random() < 0.5
        distance = TICK * rng.randint(1, levels)
        orders.append(PlaceOrder(
            account=f"m{rng.randrange(MAKERS)}", symbol=SYMBOL,
            side=Side.BUY if is_buy else Side.SELL, type=OrderType.LIMIT,
            qty=Decimal(rng.randint(1, 50)),
            price=MID - distance if is_buy else MID + distance))
    return orders


def book_with(orders: list[PlaceOrder]) -> Exchange:
    exchange = fresh_exchange()
    for order in orders:
        exchange.execute(order)
    return exchange
