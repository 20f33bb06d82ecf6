"""Noise and value traders: the tape's ordinary flow. Orders arrive as a Poisson process on
every symbol; their notional is lognormal, rounded to the lot. A noise trader buys or sells
with even odds; a value trader leans toward the index (sells a rich perp, buys a cheap one).
Orders are marketable IOC limits a few ticks through the touch, from a pool of accounts; an
account past its position limit trades only to reduce it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from engine import Instrument
from engine import unit_commands as u
from engine.enums import OrderType, Side, TimeInForce
from engine.units import NS_PER_SECOND
from scenarios.agents.base import Agent, agent_rng
from scenarios.agents.params import NoiseParams
from scenarios.agents.sizing import lots_for, usdt
from scenarios.market import Market


class NoiseTraders(Agent):
    def __init__(self, name: str, symbols: tuple[str, ...],
                 instruments: Mapping[str, Instrument], params: NoiseParams,
                 master_seed: int) -> None:
        self.name = name
        self.accounts = tuple(f"{name}-{n}" for n in range(params.count))
        self.symbols, self.instruments, self.params = symbols, instruments, params
        self.rng = agent_rng(master_seed, name)
        self._rate_per_ns = params.rate_per_min * len(symbols) / (60 * NS_PER_SECOND)

    def start(self, market: Market) -> int | None:
        if not self.accounts:
            return None
        each = usdt(self.params.capital / len(self.accounts))
        for account in self.accounts:
            market.submit(u.Deposit(account=account, amount=each))
            for symbol in self.symbols:
                market.submit(u.SetLeverage(
                    account=account, symbol=symbol,
                    leverage=min(self.params.leverage, self.instruments[symbol].max_leverage)))
        return market.now + self._wait()

    def _wait(self) -> int:
        return 1 + int(self.rng.exponential(1 / self._rate_per_ns))

    def wake(self, market: Market) -> int:
        p, rng = self.params, self.rng
        symbol = self.symbols[int(rng.integers(len(self.symbols)))]
        account = self.accounts[int(rng.integers(len(self.accounts)))]
        instrument = self.instruments[symbol]
        index = market.index.get(symbol)
        bid, ask = market.best_bid(symbol), market.best_ask(symbol)
        if index is None or bid is None or ask is None:
            return market.now + self._wait()
        notional = p.median_notional * math.exp(p.sigma * rng.standard_normal())
        lots = lots_for(instrument, notional, index)
        held = market.position(account, symbol)
        exposure = abs(held) * index * instrument.cash_per_tick_lot / 10**8
        if exposure > p.max_position:
            side, reduce_only, lots = (Side.SELL if held > 0 else Side.BUY), True, abs(held)
        else:
            reduce_only = False
            buy_odds = 0.5
            if rng.random() < p.value_share:
                premium = (bid + ask - 2 * index) / (2 * index)  # > 0: the perp is rich
                buy_odds = 0.5 - max(-0.45, min(0.45, premium * 2_000))
            side = Side.BUY if rng.random() < buy_odds else Side.SELL
        through = 2 + int(rng.integers(4))
        price = ask + through if side is Side.BUY else max(1, bid - through)
        market.submit(u.PlaceOrder(account=account, symbol=symbol, side=side,
                                   type=OrderType.LIMIT, qty=min(lots, instrument.max_qty),
                                   price=price, tif=TimeInForce.IOC, reduce_only=reduce_only))
        return market.now + self._wait()
