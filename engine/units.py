"""Numbers at the edge of the engine: the one place that converts and rounds.

Inside the engine every price is an integer count of the instrument's ticks, every quantity
an integer count of lots, every amount of money an integer count of ``1 / CASH_SCALE`` USDT
and every rate an integer over ``RATE_SCALE``. Decimal values exist only where text comes in
(the protocol, instrument files) and goes out (events, the screen).

Rounding is policy, so it lives here: amounts charged to an account round up, amounts
credited round down (PERP-MECHANICS.md §5, pitfall 5).

>>> to_units(Decimal("83.90"), Decimal("0.01"))
8390
>>> format_fixed(-300, 2)
'-3.00'
>>> ceil_div(-7, 2), -7 // 2
(-3, -4)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import (
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Underflow,
)

CASH_SCALE = 10**8
"""Money is counted in 1e-8 USDT."""
CASH_DECIMALS = 8
RATE_SCALE = 10**8
"""Rates (fees, margin ratios, funding) are integers over 1e8: 0.0004 is 40_000."""
RATE_DECIMALS = 8
NS_PER_SECOND = 10**9
MAX_UNITS = 10**17
"""No decimal converts to more units than this (one billion USDT in cash units): beyond any
instrument limit, and small enough that a number that passes cannot blow up arithmetic."""


class UnitError(ValueError):
    """A decimal that cannot be represented exactly, or is not a finite number."""


class TooLarge(UnitError):
    """A decimal beyond MAX_UNITS of its step: a size or amount no instrument allows."""


# Exact division: wide enough for any quotient that could pass the MAX_UNITS bound, and every
# signal that would mean rounding or an out-of-range exponent is an error, not a silent fix.
_EXACT = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow, Underflow])


def to_units(value: Decimal, step: Decimal) -> int:
    """Convert ``value`` to an exact integer count of ``step``.

    Raises:
        UnitError: the value is NaN, infinite, too large, or not a whole multiple of step.
    """
    if not value.is_finite():
        raise UnitError(f"{value} is not a finite number")
    # compare magnitudes by exponent first: abs() or a product of a 1e1000000 would overflow
    # the decimal context before any comparison could be made
    if value.adjusted() > step.adjusted() + 18 or abs(value) > step * MAX_UNITS:
        raise TooLarge(f"{value:f} is too large" if abs(value.adjusted()) < 40
                       else f"{value} is too large")
    try:
        units = _EXACT.divide(value, step)
        whole = units == units.to_integral_value(context=_EXACT)
    except DecimalException:
        whole = False
    if not whole:
        raise UnitError(f"{_plain(value)} is not a multiple of {_plain(step)}")
    return int(units)


def _plain(value: Decimal) -> str:
    """A decimal for a message, without scientific notation where that stays short."""
    return f"{value:f}" if -30 < value.adjusted() < 30 else str(value)


def decimals_of(step: Decimal) -> int:
    """How many decimals a value on this step is written with (0.10 -> 2, 5 -> 0)."""
    exponent = step.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def cash_from_decimal(value: Decimal) -> int:
    """An amount of USDT as cash units; more than 8 decimals is refused, never rounded."""
    return to_units(value, Decimal(1) / CASH_SCALE)


def rate_from_decimal(value: Decimal) -> int:
    """A fraction (0.0004) as an integer over RATE_SCALE."""
    return to_units(value, Decimal(1) / RATE_SCALE)


def format_fixed(units: int, decimals: int) -> str:
    """Write an integer count of ``10**-decimals`` as a decimal string.

    >>> format_fixed(900001, 1), format_fixed(5, 3), format_fixed(-5, 3), format_fixed(7, 0)
    ('90000.1', '0.005', '-0.005', '7')
    """
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def format_trimmed(units: int, decimals: int, keep: int) -> str:
    """Like format_fixed, without trailing zeros beyond ``keep`` decimals.

    >>> format_trimmed(-300000000, 8, 2), format_trimmed(1250000, 8, 2), format_trimmed(1, 8, 0)
    ('-3.00', '0.0125', '0.00000001')
    """
    text = format_fixed(units, decimals)
    cut = len(text) - (decimals - keep)
    end = len(text)
    while end > cut and text[end - 1] == "0":
        end -= 1
    if text[end - 1] == ".":
        end -= 1
    return text[:end]


def format_cash(units: int) -> str:
    """Money for the protocol and the screen: at least 2 decimals, at most 8."""
    return format_trimmed(units, CASH_DECIMALS, 2)


def format_rate(units: int) -> str:
    """A rate as a plain fraction: 10_000 -> '0.0001'."""
    return format_trimmed(units, RATE_DECIMALS, 0)


def ceil_div(numerator: int, denominator: int) -> int:
    """Division rounded toward +infinity (denominator > 0)."""
    return -(-numerator // denominator)


def mul_rate_up(amount: int, rate: int) -> int:
    """``amount * rate`` rounded up: what an account is charged (fees, margin)."""
    return -(-amount * rate // RATE_SCALE)


def mul_rate_down(amount: int, rate: int) -> int:
    """``amount * rate`` rounded down: what an account is credited."""
    return amount * rate // RATE_SCALE


# -- time ------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|z|[+-][0-9]{2}:[0-9]{2})"
)
_MAX_NS = 2**63 - 1
"""Timestamps fit a signed 64-bit integer (until 2262), as numpy and msgpack want them."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(text: str) -> int:
    """An RFC 3339 timestamp as integer nanoseconds since the epoch (UTC).

    >>> parse_timestamp("2026-01-07T10:00:00.5Z")
    1767780000500000000

    Raises:
        UnitError: the text is not an RFC 3339 timestamp with a time zone.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise UnitError(f"{text!r} is not an RFC 3339 timestamp such as 2026-01-07T10:00:00Z")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError as exc:
        raise UnitError(f"{text!r}: {exc}") from exc
    seconds = (moment - _EPOCH) // _ONE_SECOND
    if zone not in ("Z", "z"):
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise UnitError(f"{text!r}: time zone offset {zone} is out of range")
        offset = hours * 3600 + minutes * 60
        seconds -= offset if zone[0] == "+" else -offset
    ns = seconds * NS_PER_SECOND + int((fraction or "").ljust(9, "0"))
    if not 0 <= ns <= _MAX_NS:
        raise UnitError(f"{text!r} is outside 1970-01-01 .. 2262-04-11")
    return ns


_ONE_SECOND = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) - _EPOCH


def format_timestamp(ns: int) -> str:
    """Integer nanoseconds as RFC 3339 UTC, with only the fraction digits that are needed.

    >>> format_timestamp(1767780000500000000), format_timestamp(0)
    ('2026-01-07T10:00:00.5Z', '1970-01-01T00:00:00Z')
    """
    seconds, nanos = divmod(ns, NS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        moment += "." + str(nanos).rjust(9, "0").rstrip("0")
    return moment + "Z"
