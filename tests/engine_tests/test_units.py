"""engine/units.py: exact conversion at the edge, rounding against the payer, timestamps.

DESIGN.md §2: no float, nothing rounded silently, off-step / non-finite / too large values
rejected with a reason.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engine.units import (
    CASH_SCALE,
    MAX_UNITS,
    NS_PER_SECOND,
    RATE_SCALE,
    UnitError,
    cash_from_decimal,
    ceil_div,
    decimals_of,
    format_cash,
    format_fixed,
    format_rate,
    format_timestamp,
    format_trimmed,
    mul_rate_down,
    mul_rate_up,
    parse_timestamp,
    rate_from_decimal,
    to_units,
)

D = Decimal
JAN_7_10H = 1_767_780_000 * NS_PER_SECOND
"""2026-01-07T10:00:00Z in nanoseconds."""
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _ns(*fields: int) -> int:
    """A UTC wall-clock time as nanoseconds, computed independently of units.py."""
    year, month, day, hour, minute, second = (*fields, 0, 0, 0)[:6]
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1) * NS_PER_SECOND


# -- to_units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step", "units"),
    [
        ("83.90", "0.01", 8390),
        ("83.9", "0.01", 8390),
        ("90000.1", "0.1", 900001),
        ("0.001", "0.001", 1),
        ("0.10", "0.1", 1),
        ("100", "5", 20),
        ("2.50", "0.25", 10),
        ("1E+2", "0.5", 200),
        ("0", "0.01", 0),
        ("-0", "0.01", 0),
        ("0E-12", "0.01", 0),
        ("-83.90", "0.01", -8390),
        ("-0.001", "0.001", -1),
        ("-2.75", "0.25", -11),
    ],
)
def test_to_units_converts_exactly(value: str, step: str, units: int) -> None:
    result = to_units(D(value), D(step))
    assert result == units, f"{value} on step {step}: {result}, expected {units}"
    assert type(result) is int, f"to_units returned {type(result).__name__}, not int"


@pytest.mark.parametrize(
    ("value", "step"),
    [
        ("83.905", "0.01"),
        ("-83.905", "0.01"),
        ("0.0001", "0.001"),
        ("7", "5"),
        ("0.3", "0.25"),
        ("1E-20", "0.01"),
    ],
)
def test_to_units_rejects_off_step_values(value: str, step: str) -> None:
    plain = format(D(value), "f")  # messages never use scientific notation for such values
    message = rf"^{re.escape(plain)} is not a multiple of {re.escape(step)}$"
    with pytest.raises(UnitError, match=message):
        to_units(D(value), D(step))


@pytest.mark.parametrize("value", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf"])
def test_to_units_rejects_non_finite(value: str) -> None:
    with pytest.raises(UnitError, match="is not a finite number"):
        to_units(D(value), D("0.01"))


@pytest.mark.parametrize(
    "value",
    [D("1E+30"), D("-1E+30"), D(MAX_UNITS + 1) / 100, -D(MAX_UNITS + 1) / 100, D(MAX_UNITS)],
)
def test_to_units_rejects_too_large(value: Decimal) -> None:
    with pytest.raises(UnitError, match=rf"^{re.escape(format(value, 'f'))} is too large$"):
        to_units(value, D("0.01"))


def test_to_units_limit_is_inclusive() -> None:
    assert to_units(D(MAX_UNITS), D(1)) == MAX_UNITS
    assert to_units(D(-MAX_UNITS), D(1)) == -MAX_UNITS
    with pytest.raises(UnitError, match="too large"):
        to_units(D(MAX_UNITS + 1), D(1))


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("value", "step"),
    [("83.90000000000000000000000000001", "0.01"), ("1.000000000000000000000000000001", "1")],
)
def test_to_units_rejects_off_step_values_beyond_context_precision(value: str, step: str) -> None:
    try:
        units = to_units(D(value), D(step))
    except UnitError:
        return
    raise AssertionError(f"{value} on step {step} was silently rounded to {units}")


def test_to_units_rejects_huge_exponent_with_unit_error() -> None:
    try:
        to_units(D("1E+999999"), D("0.01"))
    except UnitError:
        return
    except ArithmeticError as exc:
        raise AssertionError(f"raised {type(exc).__name__}, not UnitError") from exc


def test_to_units_rejects_tiny_exponent() -> None:
    try:
        units = to_units(D("1E-1000030"), D("1"))
    except UnitError:
        return
    raise AssertionError(f"1E-1000030 was silently converted to {units}")


@given(
    units=st.integers(min_value=1 - MAX_UNITS, max_value=MAX_UNITS - 1),
    step=st.sampled_from(["1", "0.1", "0.01", "0.001", "0.00000001", "5", "0.25", "0.5"]),
    offset=st.integers(min_value=-3, max_value=3),
)
def test_to_units_is_exact_or_refuses(units: int, step: str, offset: int) -> None:
    """A value just off the step is refused; a value on it converts back to itself."""
    on_step = units * D(step)
    assert to_units(on_step, D(step)) == units
    off_step = on_step + offset * D("1E-9")
    if offset:
        with pytest.raises(UnitError, match="is not a multiple of"):
            to_units(off_step, D(step))


# -- decimals_of, cash_from_decimal, rate_from_decimal ----------------------------------------


@pytest.mark.parametrize(
    ("step", "decimals"),
    [
        ("0.10", 2),
        ("0.01", 2),
        ("0.5", 1),
        ("0.001", 3),
        ("1E-8", 8),
        ("1", 0),
        ("5", 0),
        ("10", 0),
        ("1E+1", 0),
    ],
)
def test_decimals_of(step: str, decimals: int) -> None:
    assert decimals_of(D(step)) == decimals


@pytest.mark.parametrize(
    ("value", "units"),
    [
        ("1", CASH_SCALE),
        ("0.00000001", 1),
        ("1.23456789", 123_456_789),
        ("-2.5", -250_000_000),
        ("0", 0),
        (str(D(MAX_UNITS) / CASH_SCALE), MAX_UNITS),
    ],
)
def test_cash_from_decimal(value: str, units: int) -> None:
    assert cash_from_decimal(D(value)) == units


@pytest.mark.parametrize("value", ["0.000000001", "1.123456789", "-0.000000005"])
def test_cash_from_decimal_refuses_nine_decimals(value: str) -> None:
    # the message writes plain decimals, never 1E-9
    with pytest.raises(UnitError, match=rf"^{re.escape(value)} is not a multiple of 0.00000001$"):
        cash_from_decimal(D(value))


def test_cash_from_decimal_refuses_too_large() -> None:
    with pytest.raises(UnitError, match="too large"):
        cash_from_decimal(D(MAX_UNITS + 1) / CASH_SCALE)


@pytest.mark.parametrize(
    ("value", "units"),
    [
        ("0.0004", 40_000),
        ("0.0001", 10_000),
        ("-0.0001", -10_000),
        ("0.5", RATE_SCALE // 2),
        ("1", RATE_SCALE),
        ("0.00000001", 1),
        ("0", 0),
    ],
)
def test_rate_from_decimal(value: str, units: int) -> None:
    assert rate_from_decimal(D(value)) == units


def test_rate_from_decimal_refuses_nine_decimals() -> None:
    with pytest.raises(UnitError, match="not a multiple of 0.00000001"):
        rate_from_decimal(D("0.000000001"))


# -- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (900_001, 1, "90000.1"),
        (5, 3, "0.005"),
        (-5, 3, "-0.005"),
        (7, 0, "7"),
        (-7, 0, "-7"),
        (0, 0, "0"),
        (0, 2, "0.00"),
        (8390, 2, "83.90"),
        (-8390, 2, "-83.90"),
        (100, 2, "1.00"),
        (-100, 2, "-1.00"),
        (123_456_789, 8, "1.23456789"),
        (-1, 8, "-0.00000001"),
    ],
)
def test_format_fixed(units: int, decimals: int, text: str) -> None:
    assert format_fixed(units, decimals) == text


@pytest.mark.parametrize(
    ("units", "decimals", "keep", "text"),
    [
        (-300_000_000, 8, 2, "-3.00"),
        (1_250_000, 8, 2, "0.0125"),
        (1, 8, 0, "0.00000001"),
        (0, 8, 2, "0.00"),
        (0, 8, 0, "0"),
        (100_000_000, 8, 0, "1"),
        (-100_000_000, 8, 0, "-1"),
        (120, 2, 0, "1.2"),
        (10, 0, 0, "10"),
        (100, 0, 0, "100"),
        (100, 2, 5, "1.00"),
    ],
)
def test_format_trimmed(units: int, decimals: int, keep: int, text: str) -> None:
    assert format_trimmed(units, decimals, keep) == text


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (0, "0.00"),
        (1, "0.00000001"),
        (-1, "-0.00000001"),
        (1_000_000, "0.01"),
        (-1_000_000, "-0.01"),
        (CASH_SCALE, "1.00"),
        (-150_000_000, "-1.50"),
        (123_456_789, "1.23456789"),
        (10**17, "1000000000.00"),
        (-(10**17), "-1000000000.00"),
    ],
)
def test_format_cash(units: int, text: str) -> None:
    assert format_cash(units) == text


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (10_000, "0.0001"),
        (40_000, "0.0004"),
        (-10_000, "-0.0001"),
        (0, "0"),
        (RATE_SCALE, "1"),
        (RATE_SCALE // 2, "0.5"),
        (1, "0.00000001"),
    ],
)
def test_format_rate(units: int, text: str) -> None:
    assert format_rate(units) == text


@given(units=st.integers(), decimals=st.integers(min_value=0, max_value=9))
@example(units=0, decimals=2)
@example(units=-1, decimals=9)
def test_format_fixed_roundtrips_through_decimal(units: int, decimals: int) -> None:
    text = format_fixed(units, decimals)
    parsed = D(text)
    assert Fraction(parsed) == Fraction(units, 10**decimals), f"{units}e-{decimals} -> {text}"
    assert decimals_of(parsed) == decimals, f"{text} is not written with {decimals} decimals"
    assert text.startswith("-") == (units < 0), f"sign of {units} lost or invented: {text}"
    if abs(units) <= MAX_UNITS:
        assert to_units(parsed, D(1).scaleb(-decimals)) == units


@given(
    units=st.integers(),
    decimals=st.integers(min_value=0, max_value=9),
    keep=st.integers(min_value=0, max_value=9),
)
def test_format_trimmed_keeps_the_value(units: int, decimals: int, keep: int) -> None:
    text = format_trimmed(units, decimals, keep)
    parsed = D(text)
    assert Fraction(parsed) == Fraction(units, 10**decimals), f"{units}e-{decimals} -> {text}"
    assert decimals_of(parsed) <= decimals
    assert decimals_of(parsed) >= min(keep, decimals)
    assert text.startswith("-") == (units < 0), f"sign of {units} lost or invented: {text}"


# -- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [
        (7, 2, 4),
        (-7, 2, -3),
        (6, 2, 3),
        (-6, 2, -3),
        (0, 5, 0),
        (1, CASH_SCALE, 1),
        (-1, CASH_SCALE, 0),
    ],
)
def test_ceil_div_rounds_toward_plus_infinity(numerator: int, denominator: int, quotient: int):
    assert ceil_div(numerator, denominator) == quotient


@pytest.mark.parametrize(
    ("amount", "rate", "up", "down"),
    [
        (CASH_SCALE, 40_000, 40_000, 40_000),  # 1 USDT at 4 bp: exact
        (1, 1, 1, 0),  # 1e-16 of a unit: charged 1, credited 0
        (-1, 1, 0, -1),  # negative amounts: up is toward +inf, down toward -inf
        (3, RATE_SCALE // 2, 2, 1),  # 1.5
        (-3, RATE_SCALE // 2, -1, -2),  # -1.5
        (3, -(RATE_SCALE // 2), -1, -2),  # a negative rate (funding) rounds the same way
        (0, 40_000, 0, 0),
    ],
)
def test_mul_rate_rounding(amount: int, rate: int, up: int, down: int) -> None:
    assert mul_rate_up(amount, rate) == up, f"mul_rate_up({amount}, {rate})"
    assert mul_rate_down(amount, rate) == down, f"mul_rate_down({amount}, {rate})"


@given(numerator=st.integers(), denominator=st.integers(min_value=1))
def test_ceil_div_matches_exact_ceiling(numerator: int, denominator: int) -> None:
    assert ceil_div(numerator, denominator) == math.ceil(Fraction(numerator, denominator))


@given(amount=st.integers(), rate=st.integers(min_value=-RATE_SCALE, max_value=RATE_SCALE))
def test_mul_rate_brackets_the_exact_product(amount: int, rate: int) -> None:
    exact = Fraction(amount * rate, RATE_SCALE)
    up, down = mul_rate_up(amount, rate), mul_rate_down(amount, rate)
    assert up == math.ceil(exact)
    assert down == math.floor(exact)
    assert up - down == (0 if exact.denominator == 1 else 1)


# -- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-01-07T10:00:00Z", JAN_7_10H),
        ("2026-01-07t10:00:00z", JAN_7_10H),
        ("2026-01-07 10:00:00Z", JAN_7_10H),
        ("2026-01-07T12:00:00+02:00", JAN_7_10H),
        ("2026-01-07T05:30:00-04:30", JAN_7_10H),
        ("2026-01-07T10:00:00+00:00", JAN_7_10H),
        ("2026-01-07T00:00:00-10:00", JAN_7_10H),
        ("2026-01-08T00:00:00+14:00", JAN_7_10H),
        ("2026-01-07T10:00:00.5Z", JAN_7_10H + 500_000_000),
        ("2026-01-07T10:00:00.000000001Z", JAN_7_10H + 1),
        ("2026-01-07T10:00:00.123456789Z", JAN_7_10H + 123_456_789),
        ("2026-01-07T12:00:00.120+02:00", JAN_7_10H + 120_000_000),
        ("1970-01-01T00:00:00Z", 0),
        ("2262-04-11T23:47:16.854775807Z", 2**63 - 1),
        ("2024-02-29T00:00:00Z", _ns(2024, 2, 29)),
        ("2026-03-01T00:59:00+01:00", _ns(2026, 2, 28, 23, 59)),
    ],
)
def test_parse_timestamp(text: str, ns: int) -> None:
    assert parse_timestamp(text) == ns, f"{text!r}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-02-30T10:00:00Z", "day"),  # no such day
        ("2025-02-29T10:00:00Z", "day"),  # not a leap year
        ("2026-13-01T10:00:00Z", "month"),
        ("2026-01-07T24:00:00Z", "hour"),
        ("2026-01-07T10:60:00Z", "minute"),
        ("2026-01-07T10:00:61Z", "second"),
        ("0000-01-01T00:00:00Z", "year"),
    ],
)
def test_parse_timestamp_rejects_impossible_dates(text: str, problem: str) -> None:
    with pytest.raises(UnitError, match=rf"^'{re.escape(text)}': {problem}\b"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-07T10:00:00",  # no zone
        "2026-01-07T10:00:00.5",  # no zone
        "2026-01-07",
        "",
        "2026-01-07T10:00Z",  # no seconds
        "2026-1-7T10:00:00Z",
        "2026-01-07T10:00:00+0200",
        "2026-01-07T10:00:00+02",
        "2026-01-07T10:00:00.Z",
        "2026-01-07T10:00:00.1234567890Z",  # finer than a nanosecond
        "2026-01-07T10:00:00 Z",
        " 2026-01-07T10:00:00Z",
        "2026-01-07T10:00:00Zjunk",
        "1767780000",
    ],
)
def test_parse_timestamp_rejects_malformed_text(text: str) -> None:
    with pytest.raises(UnitError, match="is not an RFC 3339 timestamp"):
        parse_timestamp(text)


def test_parse_timestamp_rejects_trailing_newline() -> None:
    try:
        ns = parse_timestamp("2026-01-07T10:00:00Z\n")
    except UnitError:
        return
    raise AssertionError(f"a trailing newline was accepted: {ns}")


@pytest.mark.parametrize("zone", ["+23:99", "+99:00", "-24:00"])
def test_parse_timestamp_rejects_impossible_offsets(zone: str) -> None:
    try:
        ns = parse_timestamp(f"2026-01-07T10:00:00{zone}")
    except UnitError:
        return
    raise AssertionError(f"offset {zone} was accepted: {ns}")


def test_parse_timestamp_rejects_non_ascii_digits() -> None:
    try:
        ns = parse_timestamp("\u0662\u0660\u0662\u0666-01-07T10:00:00Z")  # Arabic-Indic 2026
    except UnitError:
        return
    raise AssertionError(f"non-ASCII digits were accepted: {ns}")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (JAN_7_10H, "2026-01-07T10:00:00Z"),
        (JAN_7_10H + 500_000_000, "2026-01-07T10:00:00.5Z"),
        (JAN_7_10H + 120_000_000, "2026-01-07T10:00:00.12Z"),
        (JAN_7_10H + 1, "2026-01-07T10:00:00.000000001Z"),
        (2**63 - 1, "2262-04-11T23:47:16.854775807Z"),
        (-(2**63), "1677-09-21T00:12:43.145224192Z"),
    ],
)
def test_format_timestamp(ns: int, text: str) -> None:  # formatting also covers pre-epoch
    assert format_timestamp(ns) == text


def test_offset_timestamps_format_as_utc() -> None:
    assert format_timestamp(parse_timestamp("2026-01-07T12:00:00.25+02:00")) == (
        "2026-01-07T10:00:00.25Z"
    )


@given(ns=st.integers(min_value=0, max_value=2**63 - 1))
@example(ns=0)
@example(ns=2**63 - 1)
def test_timestamp_roundtrip(ns: int) -> None:
    text = format_timestamp(ns)
    assert parse_timestamp(text) == ns, f"{ns} -> {text!r}"
    assert format_timestamp(parse_timestamp(text)) == text


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2262, 4, 10), timezones=st.just(UTC)
    ),
    nanos=st.integers(min_value=0, max_value=NS_PER_SECOND - 1),
    offset_minutes=st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_parse_timestamp_applies_offsets(moment: datetime, nanos: int, offset_minutes: int):
    """The same instant written in any zone parses to the same nanoseconds."""
    moment = moment.replace(microsecond=0)
    utc_ns = _ns(*moment.timetuple()[:6]) + nanos
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = f"{local:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{sign}{hours:02d}:{minutes:02d}"
    assert parse_timestamp(text) == utc_ns, text


@pytest.mark.parametrize(
    "text", ["1969-12-31T23:59:59.999999999Z", "2262-04-11T23:47:16.854775808Z",
             "9999-12-31T23:59:59-01:00"]
)
def test_parse_timestamp_refuses_what_does_not_fit_int64_ns(text: str) -> None:
    with pytest.raises(UnitError, match="outside 1970-01-01"):
        parse_timestamp(text)
