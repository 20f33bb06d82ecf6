"""Events: what happened, in past tense, in engine units.

Prices are ticks, quantities lots and money cash units of the event's symbol or account;
``engine.protocol`` writes them as the decimal strings of DESIGN.md §4. ``ts`` is integer
nanoseconds of simulated time. Money on an account's events is signed from that account's
point of view (negative = paid).
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.enums import (
    AmendReason,
    BalanceKind,
    CancelReason,
    LiquidationStage,
    Liquidity,
    MarginMode,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    TriggerBy,
)


class Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="event", omit_defaults=True):
    seq: int
    ts: int


class Accepted(Event, tag="accepted"):
    order_id: int
    account: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    tif: TimeInForce
    post_only: bool
    reduce_only: bool
    stp: StpMode
    price: int | None = None
    trigger_price: int | None = None
    trigger_by: TriggerBy | None = None
    client_id: str | None = None


class Rejected(Event, tag="rejected"):
    cmd: str
    reason: RejectReason
    message: str
    account: str | None = None
    symbol: str | None = None
    order_id: int | None = None
    client_id: str | None = None


class Fill(Event, tag="fill"):
    trade_id: int
    order_id: int
    account: str
    symbol: str
    side: Side
    price: int
    qty: int
    fee: int
    liquidity: Liquidity
    realized_pnl: int
    position: int
    """Signed position size after this fill."""
    client_id: str | None = None


class Trade(Event, tag="trade"):
    trade_id: int
    symbol: str
    price: int
    qty: int
    taker_side: Side


class Cancelled(Event, tag="cancelled"):
    order_id: int
    account: str
    symbol: str
    reason: CancelReason
    remaining: int
    client_id: str | None = None


class Amended(Event, tag="amended"):
    order_id: int
    account: str
    symbol: str
    qty: int
    remaining: int
    price: int | None = None
    reason: AmendReason = AmendReason.USER
    client_id: str | None = None


class Triggered(Event, tag="triggered"):
    order_id: int
    account: str
    symbol: str
    trigger_price: int
    trigger_by: TriggerBy
    type: OrderType
    """What the order became: ``market`` or ``limit``."""
    client_id: str | None = None


class Leverage(Event, tag="leverage"):
    account: str
    symbol: str
    leverage: int


class MarginModeSet(Event, tag="margin_mode"):
    account: str
    symbol: str
    mode: MarginMode


class Liquidation(Event, tag="liquidation"):
    """One step of the waterfall for ``account``: a reduction fill into the book, or the
    takeover of what is left by the insurance fund. ``fee`` is the clearance fee the account
    paid (negative), ``insurance_delta`` what the fund gained (+) or paid (-)."""

    account: str
    symbol: str
    side: Side
    qty: int
    price: int
    bankruptcy_price: int
    fee: int
    insurance_delta: int
    stage: LiquidationStage


class Adl(Event, tag="adl"):
    """Auto-deleveraging: ``account``'s position closed at the bankruptcy price of
    ``counterparty``'s, because the insurance fund could not take it over."""

    account: str
    symbol: str
    side: Side
    qty: int
    price: int
    counterparty: str
    realized_pnl: int
    position: int


class Mark(Event, tag="mark"):
    symbol: str
    index: int
    mark: int
    last: int | None = None
    funding_rate: int | None = None
    next_funding: int | None = None


class Funding(Event, tag="funding"):
    """A settlement: ``rate`` (over the interval) applied at ``mark`` to every position."""

    symbol: str
    rate: int
    mark: int


class FundingPayment(Event, tag="funding_payment"):
    account: str
    symbol: str
    position: int
    amount: int


class Balance(Event, tag="balance"):
    account: str
    amount: int
    kind: BalanceKind
    wallet_balance: int
    symbol: str | None = None


class Error(Event, tag="error"):
    line: int
    message: str


class Answer(Event, tag="answer"):
    """The answer to a ``query``: ``what`` names it, ``data`` holds decimal strings."""

    what: str
    data: dict[str, Any]


ALL_EVENTS: tuple[type[Event], ...] = (
    Accepted, Rejected, Fill, Trade, Cancelled, Amended, Triggered, Leverage, MarginModeSet,
    Liquidation, Adl, Mark, Funding, FundingPayment, Balance, Error, Answer)
"""Every kind of event, for ``Exchange.select_events``."""
