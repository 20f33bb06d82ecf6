"""A market maker: a ladder of post-only quotes a side around the index.

The half-spread widens with realised volatility and the centre leans against inventory; past a
volatility threshold the quotes go far and small, and so does the side that would add to an
inventory past its limit (past twice the limit that side is pulled): this is what empties a
book in a cascade. The inventory counted is what the maker has not hedged off the venue
(``hedge_share``). Each re-quote is one
``ReplaceLadder`` (unchanged levels keep their queue priority). A level that would trade
against someone else's resting order is moved to the far side of it: quotes never cross.
"""

from __future__ import annotations

from engine import Instrument
from engine import unit_commands as u
from engine.enums import RejectReason
from engine.events import Rejected
from engine.units import NS_PER_SECOND
from scenarios.agents.base import Agent, agent_rng
from scenarios.agents.params import MakerParams
from scenarios.agents.sizing import lots_for, usdt
from scenarios.market import Market

POST_ONLY = RejectReason.POST_ONLY_WOULD_TAKE


class MarketMaker(Agent):
    def __init__(self, name: str, symbol: str, instrument: Instrument, params: MakerParams,
                 master_seed: int) -> None:
        self.name = name
        self.account = name
        self.accounts = (name,)
        self.symbol = symbol
        self.instrument = instrument
        self.params = params
        self.rng = agent_rng(master_seed, name)
        self._quoted_at = 0
        """The index at the last re-quote (ticks)."""
        self._due = 0
        self._half = 0
        self._sizing: tuple[int, float, int] | None = None
        """(index, notional, lots) of the last size worked out."""
        self._sent: tuple[object, object, int] | None = None
        """The last ladder sent and the position then: a re-quote that would send the same
        ladder with nothing filled since is skipped."""
        """The half-spread of the last re-quote, ticks."""
        self.pulled = False
        """True while volatility is past ``pull_vol``."""

    def start(self, market: Market) -> int:
        market.submit(u.Deposit(account=self.account, amount=usdt(self.params.capital)))
        market.submit(u.SetLeverage(account=self.account, symbol=self.symbol,
                                    leverage=min(self.params.leverage,
                                                 self.instrument.max_leverage)))
        return market.now

    def wake(self, market: Market) -> int:
        """Re-quote when due, or sooner when the index has moved past the quoted half-spread
        (the quotes would sit on the wrong side of the index); look again in 1 s."""
        now, index = market.now, market.index.get(self.symbol)
        if index is not None:
            if now >= self._due or abs(index - self._quoted_at) > self._half:
                self.quote(market, index)
                jitter = 0.7 + 0.6 * self.rng.random()
                self._due = now + int(self.params.requote_s * jitter * NS_PER_SECOND)
        return now + NS_PER_SECOND

    def ladder(self, market: Market, index: int) -> tuple[tuple[tuple[int, int], ...],
                                                          tuple[tuple[int, int], ...]]:
        """The bids and asks this maker wants now."""
        p, instrument = self.params, self.instrument
        vol = market.volatility(self.symbol)
        self.pulled = vol > p.pull_vol
        half_bp = p.half_spread_bp + p.vol_spread * vol
        size = p.level_notional
        if self.pulled:
            half_bp, size = half_bp * 10, size / 4
        inventory = market.position(self.account, self.symbol) * index \
            * instrument.cash_per_tick_lot / 10**8 * (1 - p.hedge_share)  # USDT, signed
        load = inventory / p.inventory_limit  # signed: 1 is a full long inventory
        lean = max(-1.0, min(1.0, load))
        step = max(1, round(index * p.level_step_bp / 10_000))
        # the centre and the half-spread snap to the level grid, and the size is re-derived
        # only when the price has moved 2 %: a move of a tick or two leaves every quote where
        # it is, keeping its queue priority (and the re-quote is skipped)
        half = self._half = max(1, round(index * half_bp / 10_000 / step)) * step
        centre = round(index * (1 - lean * p.skew * half_bp / 10_000) / step) * step
        lots = self._lots(size, index)
        # past the limit, the side that adds to the inventory goes far and small; past twice
        # the limit it is pulled
        bids = self._side(centre, -half, -step, lots, load)
        asks = self._side(centre, half, step, lots, -load)
        return _distinct(bids), _distinct(asks)

    def _lots(self, notional: float, index: int) -> int:
        """Lots for ``notional`` at ``index``, kept until the price moves 2 % or the notional
        changes (a new size on every tick would re-queue every quote)."""
        sizing = self._sizing
        if (sizing is None or sizing[1] != notional
                or abs(index - sizing[0]) * 50 > sizing[0]):
            sizing = self._sizing = (index, notional, lots_for(self.instrument, notional, index))
        return sizing[2]

    def _side(self, centre: int, half: int, step: int, lots: int, adding: float
              ) -> list[tuple[int, int]]:
        """One side's levels; ``adding`` is the inventory (in limits) this side would add
        to."""
        if adding >= 2:
            return []
        if adding >= 1:
            half, lots = half * 10, max(self.instrument.min_qty, lots // 4)
        return [(centre + half + k * step, lots) for k in range(self.params.levels)]

    def quote(self, market: Market, index: int) -> None:
        bids, asks = self.ladder(market, index)
        self._quoted_at = index
        held = market.position(self.account, self.symbol)
        if (bids, asks, held) == self._sent:
            return  # nothing filled and nothing moved: the book already holds this ladder
        self._sent = (bids, asks, held)
        command = u.ReplaceLadder(account=self.account, symbol=self.symbol, bids=bids,
                                  asks=asks)
        events = market.submit(command)
        if not (events and isinstance(events[-1], Rejected)):
            return
        if events[-1].reason is POST_ONLY:
            # someone else's order rests where we would quote: stay on our side of it
            best_ask, best_bid = self._others_best(market)
            if best_ask is not None:
                bids = tuple((min(price, best_ask - 1), lots) for price, lots in bids)
            if best_bid is not None:
                asks = tuple((max(price, best_bid + 1), lots) for price, lots in asks)
            events = market.submit(u.ReplaceLadder(account=self.account, symbol=self.symbol,
                                                   bids=_distinct(bids), asks=_distinct(asks)))
            if not (events and isinstance(events[-1], Rejected)):
                return
        # out of margin, or still crossing: pull the quotes until the next wake
        self._sent = None
        market.submit(u.ReplaceLadder(account=self.account, symbol=self.symbol, bids=(),
                                      asks=()))

    def _others_best(self, market: Market) -> tuple[int | None, int | None]:
        """The best ask and bid of other accounts' orders (ours are being replaced)."""
        book = market.exchange.books[self.symbol]
        out = []
        for levels in (book.asks, book.bids):
            best = None
            for level in levels:
                if any(order.account != self.account for order in level.live_orders()):
                    best = level.price
                    break
            out.append(best)
        return out[0], out[1]


def _distinct(levels: list[tuple[int, int]] | tuple[tuple[int, int], ...]
              ) -> tuple[tuple[int, int], ...]:
    """One quote a price (the engine wants one per price), positive prices only."""
    seen: dict[int, int] = {}
    for price, lots in levels:
        if price > 0 and lots > 0:
            seen[price] = seen.get(price, 0) + lots
    return tuple(seen.items())
