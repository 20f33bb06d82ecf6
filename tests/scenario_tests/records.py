"""Builders of small ``ReplayRecord``s for the report tests: every field has a plain default,
so a test states only what it checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.enums import Side
from engine.units import parse_timestamp
from scenarios.record import (
    AccountRecord,
    AdlRecord,
    FundingRecord,
    LiquidationRecord,
    MinuteRow,
    ReplayRecord,
)

MINUTE = 60 * 10**9
SILVER = "XAGUSDT"
T0 = parse_timestamp("2026-01-29T22:00:00Z")


def minute(ts: int, *, symbol: str = SILVER, index: int = 10_000, mark: int | None = None,
           last: int | None = None, mid: int | None = None, funding_rate: int = 10_000,
           open_interest: int = 0, depth: int = 0, trades: int = 0, volume: int = 0,
           long_liquidations: int = 0, long_liquidated: int = 0, short_liquidations: int = 0,
           short_liquidated: int = 0, insurance: int = 0) -> MinuteRow:
    return MinuteRow(ts=ts, symbol=symbol, index=index, mark=index if mark is None else mark,
                     last=last, mid=mid, funding_rate=funding_rate, open_interest=open_interest,
                     depth=depth, trades=trades, volume=volume,
                     long_liquidations=long_liquidations, long_liquidated=long_liquidated,
                     short_liquidations=short_liquidations, short_liquidated=short_liquidated,
                     insurance=insurance)


def liquidation(ts: int, *, account: str = "crowd-1", symbol: str = SILVER,
                side: Side = Side.BUY, qty: int = 1_000, price: int = 10_000,
                notional: int = 10**10, stage: str = "reduce",
                insurance_delta: int = 0) -> LiquidationRecord:
    return LiquidationRecord(ts=ts, account=account, symbol=symbol, side=side, qty=qty,
                             price=price, notional=notional, stage=stage,
                             insurance_delta=insurance_delta)


def funding(ts: int, rate: int, *, symbol: str = SILVER, mark: int = 10_000) -> FundingRecord:
    return FundingRecord(ts=ts, symbol=symbol, rate=rate, mark=mark)


def adl(ts: int, *, account: str = "mm", symbol: str = SILVER, side: Side = Side.SELL,
        qty: int = 10, price: int = 10_000, counterparty: str = "crowd-1") -> AdlRecord:
    return AdlRecord(ts=ts, account=account, symbol=symbol, side=side, qty=qty, price=price,
                     counterparty=counterparty)


def account(*, name: str = "user", label: str = "20x long", deposited: int = 0,
            equity: Sequence[tuple[int, int]] = (), final_equity: int = 0,
            realized_pnl: int = 0, funding_pnl: int = 0, fees_paid: int = 0,
            liquidation_loss: int = 0, max_drawdown: int = 0,
            liquidations: Sequence[LiquidationRecord] = (),
            adl: Sequence[AdlRecord] = (), unrealized_pnl: int = 0) -> AccountRecord:
    return AccountRecord(account=name, label=label, deposited=deposited, equity=tuple(equity),
                         final_equity=final_equity, realized_pnl=realized_pnl,
                         funding_pnl=funding_pnl, fees_paid=fees_paid,
                         liquidation_loss=liquidation_loss, max_drawdown=max_drawdown,
                         liquidations=tuple(liquidations), adl=tuple(adl),
                         unrealized_pnl=unrealized_pnl)


def record(minutes: Sequence[MinuteRow], *, symbols: Sequence[str] = (SILVER,),
           liquidations: Sequence[LiquidationRecord] = (),
           funding: Sequence[FundingRecord] = (), adl: Sequence[AdlRecord] = (),
           accounts: Sequence[AccountRecord] = (), insurance_start: int = 0,
           insurance_end: int | None = None, scenario: str = "hand-made",
           seed: int = 1) -> ReplayRecord:
    start = minutes[0].ts if minutes else T0
    end = minutes[-1].ts + MINUTE if minutes else T0
    return ReplayRecord(
        scenario=scenario, seed=seed, start=start, end=end, symbols=tuple(symbols),
        steps=len(minutes) * 60, commands=len(minutes) * 7,
        trades=sum(row.trades for row in minutes), minutes=tuple(minutes),
        liquidations=tuple(liquidations), funding=tuple(funding), adl=tuple(adl),
        accounts=tuple(accounts), insurance_start=insurance_start,
        insurance_end=(minutes[-1].insurance if minutes else 0) if insurance_end is None
        else insurance_end)


def marks_record(marks: np.ndarray, *, symbol: str = SILVER, start: int = T0,
                 liquidated: Sequence[tuple[int, int]] | None = None) -> ReplayRecord:
    """One row a minute with the given marks (ticks; index = mark) and, optionally, the
    long liquidations of each minute as (count, notional)."""
    rows = []
    for number, mark in enumerate(marks.tolist()):
        count, notional = (0, 0) if liquidated is None else liquidated[number]
        rows.append(minute(start + number * MINUTE, symbol=symbol, index=int(mark),
                           long_liquidations=count, long_liquidated=notional))
    return record(rows, symbols=(symbol,))


def path_from_returns(returns: np.ndarray, start: float = 1_000_000.0) -> np.ndarray:
    """Mark ticks following log returns from ``start`` (fine ticks, so rounding is noise)."""
    return np.rint(start * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))).astype(np.int64)
