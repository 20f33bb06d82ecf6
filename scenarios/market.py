"""What a participant sees and does: the venue at the replay's current simulated time.

The replay owns one ``Market`` and hands it to every participant (``scenarios.agents``) and to
a user strategy. It forwards commands to the exchange and offers the cheap reads a participant
makes on every wake: best prices, the index and its realised volatility, a position's size.
Everything is in engine units (ticks, lots, cash units, nanoseconds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from engine import AccountView, BookView, Exchange, Instrument, SymbolView
from engine import unit_commands as u
from engine.events import Event
from engine.units import NS_PER_SECOND

VOL_HALF_LIFE_S = 300.0
"""Half-life of the realised-volatility estimate: a participant reacts within minutes."""


class Market:
    """The replay's venue as a participant sees it; one per replay."""

    def __init__(self, exchange: Exchange, symbols: tuple[str, ...]) -> None:
        self.exchange = exchange
        self.symbols = symbols
        self.instruments: Mapping[str, Instrument] = exchange.instruments
        self.now = 0
        """Simulated time of the current step, ns."""
        self.index: dict[str, int] = {}
        """The current index per symbol, ticks (what the replay sent in the last market step)."""
        self.sink: Callable[[list[Event]], None] | None = None
        """Where the replay hears of every event a participant's command caused."""
        self.commands = 0
        """Commands submitted through this market."""
        self._variance: dict[str, float] = dict.fromkeys(symbols, 0.0)
        self._last: dict[str, tuple[int, int]] = {}

    # -- the replay's side ------------------------------------------------------------------

    def observe(self, now: int, index: Mapping[str, int]) -> None:
        """Record a market step: the clock and the index, and update realised volatility."""
        self.now = now
        for symbol, ticks in index.items():
            self.index[symbol] = ticks
            previous = self._last.get(symbol)
            self._last[symbol] = (now, ticks)
            if previous is None or previous[1] <= 0 or ticks <= 0:
                continue
            elapsed = (now - previous[0]) / NS_PER_SECOND
            if elapsed <= 0:
                continue
            r = math.log(ticks / previous[1])
            decay = 0.5 ** (elapsed / VOL_HALF_LIFE_S)
            per_second = r * r / elapsed
            self._variance[symbol] = decay * self._variance[symbol] + (1 - decay) * per_second

    # -- what a participant reads -----------------------------------------------------------

    def volatility(self, symbol: str) -> float:
        """Realised volatility of the index as a fraction per square-root second (EWMA)."""
        return math.sqrt(self._variance[symbol])

    def best_bid(self, symbol: str) -> int | None:
        return self.exchange.books[symbol].best_bid()

    def best_ask(self, symbol: str) -> int | None:
        return self.exchange.books[symbol].best_ask()

    def mark(self, symbol: str) -> int | None:
        return self.exchange.mark[symbol]

    def last(self, symbol: str) -> int | None:
        return self.exchange.last[symbol]

    def position(self, account: str, symbol: str) -> int:
        """Signed lots of ``account`` on ``symbol`` (0 for an unknown account)."""
        state = self.exchange.accounts.get(account)
        return 0 if state is None else state.position_qty(symbol)

    def wallet(self, account: str) -> int:
        """The account's cross wallet balance, cash units (0 for an unknown account)."""
        state = self.exchange.accounts.get(account)
        return 0 if state is None else state.wallet

    def account(self, account: str) -> AccountView | None:
        return self.exchange.view_account(account)

    def book(self, symbol: str, depth: int = 10) -> BookView:
        return self.exchange.view_book(symbol, depth)

    def prices(self, symbol: str) -> SymbolView:
        return self.exchange.view_symbol(symbol)

    # -- what a participant does ------------------------------------------------------------

    def submit(self, command: u.UnitCommand) -> list[Event]:
        """Execute one command now; returns the (selected) events it caused, which the replay
        also records."""
        self.commands += 1
        events = self.exchange.execute(command)
        if events and self.sink is not None:
            self.sink(events)
        return events
