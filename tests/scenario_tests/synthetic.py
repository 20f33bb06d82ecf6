"""A small synthetic market for the scenario tests: silver on a seeded random walk, a quoter
(five levels a side around the index, every 5 s) and a taker (market orders of random side),
so the driver, the session and the strategies are tested apart from the bundled participants."""

from __future__ import annotations

import numpy as np

from engine import default_instruments
from engine import unit_commands as u
from engine.enums import OrderType, Side
from engine.units import CASH_SCALE, NS_PER_SECOND, parse_timestamp
from scenarios.agents.base import Agent, agent_rng
from scenarios.market import Market
from scenarios.replay import FundingChange, ReplaySetup

SILVER = "XAGUSDT"
T0 = parse_timestamp("2026-01-07T10:00:00Z")  # a Wednesday: metals open


class Quoter(Agent):
    """Five levels a side two ticks around the index, every 5 s."""

    name = "quoter"
    accounts = ("quoter",)

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account="quoter", amount=10**7 * CASH_SCALE))
        return market.now

    def wake(self, market: Market) -> int:
        index = market.index[SILVER]
        market.submit(u.ReplaceLadder(
            account="quoter", symbol=SILVER,
            bids=tuple((index - 2 - k, 50_000) for k in range(5)),
            asks=tuple((index + 2 + k, 50_000) for k in range(5))))
        return market.now + 5 * NS_PER_SECOND


class Taker(Agent):
    """Market orders of random side every few seconds, from its own generator."""

    def __init__(self, seed: int) -> None:
        self.name = "taker"
        self.accounts = ("taker",)
        self.rng = agent_rng(seed, self.name)
        self.heard: list[str] = []

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account="taker", amount=10**6 * CASH_SCALE))
        return market.now + NS_PER_SECOND

    def wake(self, market: Market) -> int:
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        market.submit(u.PlaceOrder(account="taker", symbol=SILVER, side=side,
                                   type=OrderType.MARKET, qty=int(self.rng.integers(1, 2000))))
        return market.now + int(self.rng.integers(1, 10)) * NS_PER_SECOND

    def on_event(self, market: Market, event: object) -> None:
        self.heard.append(type(event).__name__)


def setup(seed: int = 7, seconds: int = 1800, drift: float = -0.2,
          changes: tuple[FundingChange, ...] = (),
          calendar: tuple[tuple[int, str, str], ...] = ()) -> ReplaySetup:
    """Fresh every time: participants are stateful."""
    rng = np.random.default_rng(seed)
    times = T0 + np.arange(seconds, dtype=np.int64) * NS_PER_SECOND
    steps = rng.normal(0, 0.0004, seconds) + drift / seconds
    path = np.rint(7850 * np.exp(np.cumsum(steps))).astype(np.int64)
    return ReplaySetup(name="synthetic", seed=seed, instruments=default_instruments(),
                       times=times, index={SILVER: path}, participants=[Quoter(), Taker(seed)],
                       changes=changes, calendar=calendar)
