"""Refusals: the exception a command handler raises to reject a command, and the lookups
and unit checks that raise it.

A handler checks before it changes anything, so a refused command changes nothing; the
exchange turns the refusal into a ``rejected`` event (``Exchange.execute``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.account import Account
from engine.enums import RejectReason
from engine.instrument import Instrument
from engine.units import MAX_UNITS, TooLarge, UnitError, cash_from_decimal, format_cash


class Refusal(Exception):
    """Raised inside a handler to reject the command; carries the reason and a message.

    Never escapes the exchange: ``execute`` turns it into a ``rejected`` event. Handlers raise
    it before they change anything, which is what makes a rejected command change nothing.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def account_of(accounts: Mapping[str, Account], account_id: str) -> Account:
    account = accounts.get(account_id)
    if account is None:
        raise Refusal(RejectReason.UNKNOWN_ACCOUNT,
                      f"no account {account_id!r}: deposit to open one")
    return account


def instrument_of(instruments: Mapping[str, Instrument], symbol: str) -> Instrument:
    instrument = instruments.get(symbol)
    if instrument is None:
        raise Refusal(RejectReason.UNKNOWN_SYMBOL,
                      f"no instrument {symbol!r}; listed: {', '.join(instruments)}")
    return instrument


def mark_of(marks: Mapping[str, int | None], symbol: str) -> int:
    mark = marks[symbol]
    if mark is None:
        raise Refusal(RejectReason.NO_MARK_PRICE, f"{symbol} has no mark price yet")
    return mark


def amount(value: Any) -> int:
    try:
        amount = cash_from_decimal(value)
    except UnitError as exc:
        raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {exc}") from exc
    return positive_amount(amount, value)


def positive_amount(amount: int, shown: Any = None) -> int:
    if amount <= 0:
        shown = format_cash(amount) if shown is None else shown
        raise Refusal(RejectReason.INVALID_AMOUNT, f"amount {shown} must be positive")
    return amount


def ticks(instrument: Instrument, value: Any, field: str) -> int:
    try:
        ticks = instrument.price_to_ticks(value)
    except UnitError as exc:
        raise Refusal(RejectReason.INVALID_PRICE,
                      f"{field} {exc} (tick size {instrument.tick_size})") from exc
    return positive_ticks(instrument, ticks, field, value)


def positive_ticks(instrument: Instrument, ticks: int, field: str,
                   shown: Any = None) -> int:
    if type(ticks) is not int or ticks <= 0:
        shown = (instrument.format_price(ticks) if type(ticks) is int else repr(ticks)
                 ) if shown is None else shown
        raise Refusal(RejectReason.INVALID_PRICE, f"{field} {shown} must be positive")
    return ticks


def lots(instrument: Instrument, value: Any, max_lots: int) -> int:
    try:
        lots = instrument.qty_to_lots(value)
    except TooLarge as exc:
        raise Refusal(RejectReason.ABOVE_MAX_QTY, f"qty {exc}") from exc
    except UnitError as exc:
        raise Refusal(RejectReason.INVALID_QTY,
                      f"qty {exc} (lot size {instrument.lot_size})") from exc
    return checked_lots(instrument, lots, max_lots, value)


def checked_lots(instrument: Instrument, lots: int, max_lots: int, value: Any = None) -> int:
    """Refuse a size off the instrument's limits; ``value`` is how the caller wrote it."""
    if type(lots) is not int:
        raise Refusal(RejectReason.INVALID_QTY, f"qty {lots!r} is not a whole number of lots")
    if 0 < lots <= max_lots and lots >= instrument.min_qty:
        return lots
    if value is None:  # formatted only for a refusal: the accepted path stays cheap
        value = instrument.format_qty(lots)
    if lots <= 0:
        raise Refusal(RejectReason.INVALID_QTY, f"qty {value} must be positive")
    if lots > max_lots:
        limit = instrument.format_qty(max_lots)
        raise Refusal(RejectReason.ABOVE_MAX_QTY, f"qty {value} is above the maximum {limit}")
    limit = instrument.format_qty(instrument.min_qty)
    raise Refusal(RejectReason.BELOW_MIN_QTY, f"qty {value} is below the minimum {limit}")


def unit_amount(amount: int) -> int:
    if type(amount) is not int or amount > MAX_UNITS:
        raise Refusal(RejectReason.INVALID_AMOUNT,
                      f"amount {amount!r} is not a whole number of cash units up to "
                      f"{MAX_UNITS}")
    return positive_amount(amount)
