"""An index arbitrageur: sells the perp when its best bid is rich to the index, buys when its
best ask is cheap, with IOC limit orders, more likely the wider the premium. Its capital and
margin are limited: once its position reaches ``max_position`` or its orders are refused for
margin it cannot lean against the premium any more, which is how the premium (and funding)
widen in a crash. When the premium is gone it works its position back toward flat.
"""

from __future__ import annotations

from engine import Instrument
from engine import unit_commands as u
from engine.enums import OrderType, RejectReason, Side, TimeInForce
from engine.events import Rejected
from engine.units import NS_PER_SECOND
from scenarios.agents.base import Agent, agent_rng
from scenarios.agents.params import ArbitrageurParams
from scenarios.agents.sizing import lots_for, usdt
from scenarios.market import Market

OUT_OF_MARGIN = (RejectReason.INSUFFICIENT_MARGIN, RejectReason.INSUFFICIENT_BALANCE,
                 RejectReason.LEVERAGE_TOO_HIGH)
BACK_OFF_S = 60.0
"""After a margin refusal the arbitrageur waits this long before adding again."""


class Arbitrageur(Agent):
    def __init__(self, name: str, symbol: str, instrument: Instrument,
                 params: ArbitrageurParams, master_seed: int) -> None:
        self.name = self.account = name
        self.accounts = (name,)
        self.symbol, self.instrument, self.params = symbol, instrument, params
        self.rng = agent_rng(master_seed, name)
        self._blocked_until = 0

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account=self.account, amount=usdt(self.params.capital_usdt)))
        market.submit(u.SetLeverage(account=self.account, symbol=self.symbol,
                                    leverage=min(self.params.leverage,
                                                 self.instrument.max_leverage)))
        return market.now + self._wait()

    def _wait(self) -> int:
        return int(self.params.wake_s * (0.5 + self.rng.random()) * NS_PER_SECOND)

    def wake(self, market: Market) -> int:
        now, p = market.now, self.params
        index = market.index.get(self.symbol)
        bid, ask = market.best_bid(self.symbol), market.best_ask(self.symbol)
        if index is None:
            return now + self._wait()
        held = market.position(self.account, self.symbol)
        exposure = abs(held) * index * self.instrument.cash_per_tick_lot / 10**8
        threshold = index * p.threshold_bp / 10_000
        rich = None if bid is None else bid - index
        cheap = None if ask is None else index - ask
        if rich is not None and rich > threshold and self._may_add(market, now, -held,
                                                                   exposure, rich / threshold):
            self._take(market, Side.SELL, max(index + 1, bid - int(rich) // 2), index)
        elif cheap is not None and cheap > threshold and self._may_add(market, now, held,
                                                                       exposure,
                                                                       cheap / threshold):
            self._take(market, Side.BUY, min(index - 1, ask + int(cheap) // 2), index)
        elif held and bid is not None and ask is not None and self.rng.random() < 0.3:
            # no premium to trade: unwind a clip at a price no worse than the index
            side = Side.SELL if held > 0 else Side.BUY
            if (side is Side.SELL and bid >= index) or (side is Side.BUY and ask <= index):
                self._take(market, side, index, index, cap=abs(held), reduce_only=True)
        return now + self._wait()

    def _may_add(self, market: Market, now: int, against: int, exposure: float,
                 ratio: float) -> bool:
        """Whether to trade the premium now: always when it reduces the position, otherwise
        within limits, with probability rising with the premium (1 at twice the threshold)."""
        if against > 0:  # the trade reduces what is held
            return True
        if now < self._blocked_until or exposure >= self.params.max_position:
            return False
        return self.rng.random() < min(1.0, ratio - 1.0)

    def _take(self, market: Market, side: Side, limit: int, index: int, cap: int | None = None,
              reduce_only: bool = False) -> None:
        lots = lots_for(self.instrument, self.params.clip, index)
        if cap is not None:
            lots = min(lots, cap)
        if lots <= 0 or limit <= 0:
            return
        events = market.submit(u.PlaceOrder(
            account=self.account, symbol=self.symbol, side=side, type=OrderType.LIMIT,
            qty=lots, price=limit, tif=TimeInForce.IOC, reduce_only=reduce_only))
        if events and isinstance(events[-1], Rejected) and events[-1].reason in OUT_OF_MARGIN:
            self._blocked_until = market.now + int(BACK_OFF_S * NS_PER_SECOND)
