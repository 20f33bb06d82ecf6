"""What a replay keeps: per-minute aggregates, liquidations, funding, ADL and the accounts of
interest. The report (``scenarios.report``) is built from this alone, never from the event log.

Every number is an integer in engine units (ticks, lots, cash units, rates over
``engine.units.RATE_SCALE``, nanoseconds); ``None`` where a value does not exist yet (no trade,
a one-sided book).
"""

from __future__ import annotations

import msgspec

from engine.enums import Side


class MinuteRow(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol over one minute of simulated time; prices are the values at the minute's
    last step."""

    ts: int
    """Start of the minute, ns."""
    symbol: str
    index: int
    mark: int
    last: int | None
    mid: int | None
    """Mid of the best bid and ask, half-ticks (bid + ask), None for a one-sided book."""
    funding_rate: int
    """The predicted funding rate at the minute's end."""
    open_interest: int
    """Lots, one side."""
    depth: int
    """Lots resting within 1 % of the mid, both sides."""
    trades: int
    volume: int
    """Lots traded in the minute."""
    long_liquidations: int
    long_liquidated: int
    """Notional of long positions liquidated in the minute, cash units."""
    short_liquidations: int
    short_liquidated: int
    insurance: int
    """The insurance fund's balance at the minute's end, cash units."""


class LiquidationRecord(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    account: str
    symbol: str
    side: Side
    """The side of the position that was liquidated (a long is sold: ``Side.BUY`` here)."""
    qty: int
    price: int
    notional: int
    stage: str
    """``reduce`` (into the book) or ``takeover`` (by the insurance fund)."""
    insurance_delta: int


class FundingRecord(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    symbol: str
    rate: int
    mark: int


class AdlRecord(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    account: str
    symbol: str
    side: Side
    """The side of the position that was deleveraged."""
    qty: int
    price: int
    counterparty: str


class AccountRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An account of interest (a user strategy's, a fixed starting position's)."""

    account: str
    label: str
    deposited: int
    """Cash units paid in."""
    equity: tuple[tuple[int, int], ...]
    """(minute ns, margin balance in cash units) at each minute's end."""
    final_equity: int
    realized_pnl: int
    funding_pnl: int
    fees_paid: int
    liquidation_loss: int
    """What liquidations took from the account beside the trading loss of their fills:
    clearance fees and the collateral the insurance fund seized (cash units, >= 0). With
    ``unrealized_pnl`` the split is exact: final_equity - deposited = realized_pnl +
    unrealized_pnl + funding_pnl - fees_paid - liquidation_loss."""
    max_drawdown: int
    """Largest fall of equity from a previous peak, cash units."""
    liquidations: tuple[LiquidationRecord, ...]
    adl: tuple[AdlRecord, ...]
    unrealized_pnl: int
    """Of the positions still open at the end, at the final marks."""


class ReplayRecord(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str
    seed: int
    start: int
    end: int
    symbols: tuple[str, ...]
    steps: int
    commands: int
    """Commands executed by participants, strategies and the replay itself."""
    trades: int
    minutes: tuple[MinuteRow, ...]
    liquidations: tuple[LiquidationRecord, ...]
    funding: tuple[FundingRecord, ...]
    adl: tuple[AdlRecord, ...]
    accounts: tuple[AccountRecord, ...]
    insurance_start: int
    insurance_end: int
