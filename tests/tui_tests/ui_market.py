"""A small synthetic market for the UI tests: silver quoted by one maker around a drifting
index, a taker trading at random; fast, fixed seed, nothing from the bundled scenarios."""

from __future__ import annotations

import numpy as np

from engine import default_instruments
from engine import unit_commands as u
from engine.enums import OrderType, Side
from engine.units import CASH_SCALE, NS_PER_SECOND, parse_timestamp
from scenarios.agents.base import Agent, agent_rng
from scenarios.market import Market
from scenarios.replay import ReplaySetup
from scenarios.session import Session

SILVER = "XAGUSDT"
GOLD = "XAUUSDT"
T0 = parse_timestamp("2026-01-07T10:00:00Z")
KEY = "ui-synthetic:7"
EVENTS = ((T0 + 600 * NS_PER_SECOND, "News", "ten minutes in"),)


class Quoter(Agent):
    name = "quoter"
    accounts = ("quoter",)

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account="quoter", amount=10**7 * CASH_SCALE))
        return market.now

    def wake(self, market: Market) -> int:
        for symbol in market.symbols:
            index = market.index[symbol]
            market.submit(u.ReplaceLadder(
                account="quoter", symbol=symbol,
                bids=tuple((index - 2 - k, 50_000 + 1000 * k) for k in range(12)),
                asks=tuple((index + 2 + k, 50_000 + 1000 * k) for k in range(12))))
        return market.now + 5 * NS_PER_SECOND


class Taker(Agent):
    def __init__(self, seed: int) -> None:
        self.name = "taker"
        self.accounts = ("taker",)
        self.rng = agent_rng(seed, self.name)

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account="taker", amount=10**6 * CASH_SCALE))
        return market.now + NS_PER_SECOND

    def wake(self, market: Market) -> int:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        market.submit(u.PlaceOrder(account="taker", symbol=SILVER, side=side,
                                   type=OrderType.MARKET, qty=int(self.rng.integers(1, 2000))))
        return market.now + int(self.rng.integers(1, 10)) * NS_PER_SECOND


def setup(seed: int = 7, seconds: int = 1800, drift: float = -0.05,
          crash_at: int | None = None, crash: float = 0.0) -> ReplaySetup:
    """Fresh every time (participants are stateful). ``crash``: a relative drop of the silver
    index from step ``crash_at`` on (a liquidation for a leveraged long)."""
    rng = np.random.default_rng(seed)
    times = T0 + np.arange(seconds, dtype=np.int64) * NS_PER_SECOND
    steps = rng.normal(0, 0.0004, seconds) + drift / seconds
    curve = np.exp(np.cumsum(steps))
    if crash_at is not None:
        curve[crash_at:] *= 1 + crash
    silver = np.rint(7850 * curve).astype(np.int64)
    gold = np.rint(4_400_00 * np.exp(np.cumsum(rng.normal(0, 0.0002, seconds)))).astype(np.int64)
    return ReplaySetup(name="synthetic", seed=seed, instruments=default_instruments(),
                       times=times, index={SILVER: silver, GOLD: gold},
                       participants=[Quoter(), Taker(seed)], calendar=EVENTS)


def session(**kwargs) -> Session:  # type: ignore[no-untyped-def]
    options = {k: kwargs.pop(k) for k in ("seed", "seconds", "drift", "crash_at", "crash")
               if k in kwargs}
    return Session(setup(**options), KEY, **kwargs)
