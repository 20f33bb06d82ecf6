"""The leveraged crowd: hundreds to thousands of small accounts as one participant.

Per account, drawn once: a symbol, an equity (lognormal) and a leverage from a mixture by
account count (40 % at 2-10x, 40 % at 10-30x, 20 % from 30x to the venue's maximum), the
largest accounts taking the lowest leverage, so that leverage weighted by notional is low
(3-7x) while the typical account's is high, as on a real venue. Whether it follows the trend
(momentum) or fades it (contrarian), rests a stop-loss, takes partial profit.

Each account decides on its own schedule (exponential waits): a flat account enters at market,
long with a probability that rises with the trend (the log change of the index against its
``trend_hours`` moving average) for momentum accounts and falls with it for contrarians; an
account in a position holds it for an exponential time, then closes at market. A liquidated
account waits ``reentry_hours`` on average, deposits its equity again and re-enters. Nobody
enters while the index is wild (``panic_vol``): they wait for it to calm. The
agent wakes only when its next account is due, so the crowd costs nothing between decisions.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping

import numpy as np

from engine import Instrument
from engine import unit_commands as u
from engine.enums import OrderType, Side, TriggerBy
from engine.events import Adl, Event, Fill, Liquidation
from engine.units import CASH_SCALE, NS_PER_SECOND
from scenarios.agents.base import Agent, agent_rng
from scenarios.agents.params import CrowdParams
from scenarios.agents.sizing import lots_for, market_lots, usdt
from scenarios.market import Market

HOUR_NS = 3600 * NS_PER_SECOND
FLAT, HOLDING, LIQUIDATED = 0, 1, 2


def draw_leverage(rng: np.random.Generator, count: int, max_leverage: np.ndarray
                  ) -> np.ndarray:
    """Whole leverages by account count: 40 % in [2, 10), 40 % in [10, 30), 20 % in
    [30, the maximum] (each uniform), never above an account's ``max_leverage``."""
    band = rng.random(count)
    top = band >= 0.8
    low = np.where(band < 0.4, 2.0, np.where(top, 30.0, 10.0))
    end = np.where(band < 0.4, 10.0, np.where(top, max_leverage + 1, 30.0))
    end = np.maximum(np.minimum(end, max_leverage + 1), low + 1)
    return np.minimum(np.floor(low + rng.random(count) * (end - low)), max_leverage)


def pair_by_size(rng: np.random.Generator, equity: np.ndarray, leverage: np.ndarray
                 ) -> np.ndarray:
    """The leverages reordered so that larger accounts take lower leverage (with noise): the
    rank of each account's log equity, jittered, picks from the leverages sorted high to low."""
    jittered = np.log(equity) + rng.normal(0.0, 0.6, len(equity))
    out = np.empty_like(leverage)
    out[np.argsort(jittered)] = np.sort(leverage)[::-1]
    return out


class Crowd(Agent):
    def __init__(self, name: str, symbols: tuple[str, ...],
                 instruments: Mapping[str, Instrument], params: CrowdParams,
                 master_seed: int) -> None:
        self.name = name
        self.symbols, self.instruments, self.params = symbols, instruments, params
        rng = self.rng = agent_rng(master_seed, name)
        n = params.accounts
        self.accounts = tuple(f"{name}-{k}" for k in range(n))
        self._number = {account: k for k, account in enumerate(self.accounts)}
        weights = np.array([self._weight(s) for s in symbols], dtype=float)
        self.symbol = rng.choice(len(symbols), size=n, p=weights / weights.sum()).tolist()
        self.equity = (params.median_equity
                       * np.exp(params.equity_sigma * rng.standard_normal(n))).round(2)
        limits = np.array([instruments[symbols[s]].max_leverage for s in self.symbol],
                          dtype=float)
        self.leverage = pair_by_size(rng, self.equity, draw_leverage(rng, n, limits)
                                     ).astype(int).tolist()
        self.momentum = (rng.random(n) >= params.contrarian_share).tolist()
        self.stops = (rng.random(n) < params.stop_share).tolist()
        self.takes_profit = (rng.random(n) < params.take_profit_share).tolist()
        self.equity = self.equity.tolist()
        self.state = [FLAT] * n
        self._version = [0] * n
        self._queue: list[tuple[int, int, int]] = []
        self._trend: dict[str, tuple[int, float]] = {}
        """symbol -> (time, moving average of the log index)."""
        self.entries = 0
        self.liquidations = 0

    def _weight(self, symbol: str) -> float:
        weights = self.params.symbol_weights
        if weights:
            return float(weights.get(symbol, 0.0))
        if "XAGUSDT" in self.symbols and len(self.symbols) > 1:
            return 0.5 if symbol == "XAGUSDT" else 0.5 / (len(self.symbols) - 1)
        return 1.0

    # -- the schedule ---------------------------------------------------------------------

    def _at(self, k: int, when: int) -> None:
        self._version[k] += 1
        heapq.heappush(self._queue, (when, k, self._version[k]))

    def _wait(self, hours: float) -> int:
        return 1 + int(self.rng.exponential(hours) * HOUR_NS)

    def start(self, market: Market) -> int | None:
        if not self.accounts:
            return None
        now = market.now
        for k, account in enumerate(self.accounts):
            market.submit(u.Deposit(account=account, amount=usdt(self.equity[k])))
            self._set_leverage(market, k)
            # the crowd arrives over the first mean wait, not all at once
            self._at(k, now + int(self.rng.random() * self.params.mean_wait_hours * HOUR_NS))
        return self._queue[0][0]

    def _set_leverage(self, market: Market, k: int) -> None:
        symbol = self.symbols[self.symbol[k]]
        instrument = self.instruments[symbol]
        index = market.index.get(symbol) or 0
        notional = int(self.equity[k] * self.leverage[k] * CASH_SCALE)
        if index:
            self.leverage[k] = max(1, min(self.leverage[k],
                                          instrument.max_leverage_for(notional)))
        market.submit(u.SetLeverage(account=self.accounts[k], symbol=symbol,
                                    leverage=self.leverage[k]))

    def wake(self, market: Market) -> int | None:
        now, queue = market.now, self._queue
        self._update_trends(market)
        while queue and queue[0][0] <= now:
            _, k, version = heapq.heappop(queue)
            if version == self._version[k]:
                self._decide(market, k)
        return queue[0][0] if queue else None

    # -- decisions ------------------------------------------------------------------------

    def _update_trends(self, market: Market) -> None:
        half_life = self.params.trend_hours * HOUR_NS
        for symbol in self.symbols:
            index = market.index.get(symbol)
            if not index:
                continue
            level = math.log(index)
            seen = self._trend.get(symbol)
            if seen is None:
                self._trend[symbol] = (market.now, level)
                continue
            elapsed = market.now - seen[0]
            if elapsed <= 0:
                continue
            keep = 0.5 ** (elapsed / half_life)
            self._trend[symbol] = (market.now, keep * seen[1] + (1 - keep) * level)

    def trend(self, market: Market, symbol: str) -> float:
        """Log change of the index against its moving average (> 0: rising)."""
        index, seen = market.index.get(symbol), self._trend.get(symbol)
        return 0.0 if not index or seen is None else math.log(index) - seen[1]

    def _decide(self, market: Market, k: int) -> None:
        p, account = self.params, self.accounts[k]
        symbol = self.symbols[self.symbol[k]]
        if self.state[k] == LIQUIDATED:
            market.submit(u.Deposit(account=account, amount=usdt(self.equity[k])))
            self.state[k] = FLAT
        held = market.position(account, symbol)
        if held:
            market.submit(u.CancelAll(account=account, symbol=symbol))
            market.submit(u.PlaceOrder(account=account, symbol=symbol,
                                       side=Side.SELL if held > 0 else Side.BUY,
                                       type=OrderType.MARKET,
                                       qty=market_lots(self.instruments[symbol], abs(held)),
                                       reduce_only=True))
            self.state[k] = FLAT
            self._at(k, market.now + self._wait(p.mean_wait_hours))
            return
        if self.state[k] == HOLDING:  # closed by its stop or target: tidy up, wait
            market.submit(u.CancelAll(account=account, symbol=symbol))
            self.state[k] = FLAT
            self._at(k, market.now + self._wait(p.mean_wait_hours))
            return
        self._enter(market, k, symbol)

    def _enter(self, market: Market, k: int, symbol: str) -> None:
        p, account = self.params, self.accounts[k]
        instrument = self.instruments[symbol]
        index = market.index.get(symbol)
        if not index or market.volatility(symbol) > p.panic_vol:
            self._at(k, market.now + self._wait(p.mean_wait_hours / 4))
            return
        signal = p.momentum * self.trend(market, symbol)
        if not self.momentum[k]:
            signal = -signal
        odds = min(0.95, max(0.05, p.long_bias + signal))
        side = Side.BUY if self.rng.random() < odds else Side.SELL
        wallet = market.wallet(account) / CASH_SCALE
        lots = market_lots(instrument, lots_for(instrument, 0.97 * wallet * self.leverage[k],
                                                index))
        events = market.submit(u.PlaceOrder(account=account, symbol=symbol, side=side,
                                            type=OrderType.MARKET, qty=lots))
        filled = sum(e.qty for e in events if type(e) is Fill and e.account == account)
        if filled:
            self.entries += 1
            self.state[k] = HOLDING
            self._protect(market, k, symbol, side, filled, index)
            self._at(k, market.now + self._wait(p.hold_hours))
        else:
            self._at(k, market.now + self._wait(p.mean_wait_hours))

    def _protect(self, market: Market, k: int, symbol: str, side: Side, lots: int,
                 index: int) -> None:
        p, account = self.params, self.accounts[k]
        exit_side = Side.SELL if side is Side.BUY else Side.BUY
        sign = 1 if side is Side.BUY else -1
        if self.stops[k]:
            trigger = int(index * (1 - sign * p.stop_pct / 100))
            market.submit(u.PlaceOrder(account=account, symbol=symbol, side=exit_side,
                                       type=OrderType.STOP_MARKET, qty=lots,
                                       trigger_price=trigger, trigger_by=TriggerBy.MARK,
                                       reduce_only=True))
        if self.takes_profit[k] and lots >= 2 * self.instruments[symbol].min_qty:
            trigger = int(index * (1 + sign * p.take_profit_pct / 100))
            market.submit(u.PlaceOrder(account=account, symbol=symbol, side=exit_side,
                                       type=OrderType.TAKE_PROFIT_MARKET, qty=lots // 2,
                                       trigger_price=trigger, trigger_by=TriggerBy.MARK,
                                       reduce_only=True))

    def on_event(self, market: Market, event: Event) -> None:
        if type(event) not in (Liquidation, Adl):
            return
        k = self._number[event.account]  # type: ignore[attr-defined]
        if type(event) is Adl or self.state[k] == LIQUIDATED:
            return
        self.state[k] = LIQUIDATED
        self.liquidations += 1
        self._at(k, market.now + self._wait(self.params.reentry_hours))
