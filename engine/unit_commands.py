"""Commands in engine units, for the layers above: participants, the replay, the terminal UI.

The same commands as the wire's (engine/commands.py), with every number already an integer of
the engine: prices in ticks, quantities in lots, money in cash units, time in nanoseconds. No
decimal or timestamp is parsed on their path. They reach the same internal handlers as the
wire commands, which are converted once at the edge, so both give the same events and the same
state; the unit commands still get every range check (positive, on the instrument's limits,
inside the band) and the same ``rejected`` events.

Two commands exist only here, because they are what a simulated market does every step:

- ``MarketStep``: the clock and every symbol's index in one input, so a tick of simulated time
  re-marks each symbol once and sweeps once, instead of once for the clock and again for each
  index.
- ``ReplaceLadder``: all of one account's quotes on one symbol in one command, with one margin
  check; levels that did not change keep their queue priority.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from engine.enums import OrderType, Side, StpMode, TimeInForce, TriggerBy


class UnitCommand(msgspec.Struct, kw_only=True, frozen=True):
    name: ClassVar[str]
    """The command's name in ``rejected`` events (the wire's ``cmd`` where there is one)."""


class Deposit(UnitCommand):
    name: ClassVar[str] = "deposit"
    account: str
    amount: int


class Withdraw(UnitCommand):
    name: ClassVar[str] = "withdraw"
    account: str
    amount: int


class SetLeverage(UnitCommand):
    name: ClassVar[str] = "leverage"
    account: str
    symbol: str
    leverage: int


class PlaceOrder(UnitCommand):
    name: ClassVar[str] = "place"
    account: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    price: int | None = None
    trigger_price: int | None = None
    trigger_by: TriggerBy = TriggerBy.MARK
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_id: str | None = None
    stp: StpMode = StpMode.EXPIRE_MAKER


class CancelOrder(UnitCommand):
    name: ClassVar[str] = "cancel"
    account: str
    order_id: int | None = None
    client_id: str | None = None


class AmendOrder(UnitCommand):
    name: ClassVar[str] = "amend"
    account: str
    order_id: int | None = None
    client_id: str | None = None
    qty: int | None = None
    price: int | None = None


class CancelAll(UnitCommand):
    name: ClassVar[str] = "cancel_all"
    account: str
    symbol: str | None = None


class SetIndex(UnitCommand):
    name: ClassVar[str] = "index"
    symbol: str
    price: int


class AdvanceTime(UnitCommand):
    name: ClassVar[str] = "time"
    ts: int


class MarketStep(UnitCommand):
    """Advance the clock to ``ts``, then set the index of every symbol in ``index`` at once.

    Equivalent to ``AdvanceTime(ts)`` followed by one ``SetIndex`` per symbol (the interval up
    to ``ts`` is sampled at the old indices), except that each symbol is re-marked, and its
    triggers and margin checked, once.
    """

    name: ClassVar[str] = "market_step"
    ts: int
    index: dict[str, int]


class SetFundingTerms(UnitCommand):
    """A venue change of ``symbol``'s funding terms, effective now: ``interval_ns`` (a whole
    number of hours that divides a day) and ``cap`` (the rate's cap and floor, over RATE_SCALE).

    The next settlement is the next boundary of the new interval, and its rate is capped by the
    new cap; the premium sampled since the last settlement carries on into it. Binance moved its
    metals perpetuals from 4 h and 0.375 % to 8 h and 0.05 % on 2026-01-30 at 12:15 UTC, from
    the 16:00 settlement: sent at 12:15, this makes 16:00 the first settlement on the new terms.
    The instrument the exchange holds changes, so a snapshot taken afterwards loads only with
    the changed instrument.
    """

    name: ClassVar[str] = "funding_terms"
    symbol: str
    interval_ns: int
    cap: int


class ReplaceLadder(UnitCommand):
    """Set all of ``account``'s resting quotes on ``symbol`` to the given levels.

    ``bids`` / ``asks`` are ``(price ticks, lots)`` pairs, one per price; ``None`` leaves that
    side as it is, an empty tuple clears it. A quote already resting at a wanted price keeps its
    queue priority if its size is kept or lowered (a larger size goes to the back, as an amend
    would). Quotes are post-only GTC limit orders: a level that would trade refuses the whole
    command (``post_only_would_take``), as does one margin check of the whole new ladder. The
    account's other orders (reduce-only, conditional, IOC) are not touched.
    """

    name: ClassVar[str] = "replace_ladder"
    account: str
    symbol: str
    bids: tuple[tuple[int, int], ...] | None = None
    asks: tuple[tuple[int, int], ...] | None = None
