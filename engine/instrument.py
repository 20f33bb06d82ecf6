"""Instruments: the contract specifications of the perpetuals the venue lists.

A file of instruments is TOML (the defaults ship as ``engine/instruments.toml``). Decimals in
it are read exactly (``tick_size = 0.01`` is ``Decimal("0.01")``, never a float) and turned
into the integer units the engine computes with (engine/units.py). Margin tiers give floor,
cap, maximum leverage and maintenance margin rate; the maintenance amount ``cum`` is derived
by the recursion of PERP-MECHANICS.md §1.9 so that maintenance margin is continuous.
"""

from __future__ import annotations

import bisect
import tomllib
from decimal import Decimal
from importlib import resources
from typing import Annotated, Literal

import msgspec

from engine.units import (
    CASH_SCALE,
    NS_PER_SECOND,
    RATE_SCALE,
    UnitError,
    cash_from_decimal,
    decimals_of,
    format_fixed,
    mul_rate_up,
    rate_from_decimal,
    to_units,
)

# msgspec cannot constrain Decimal fields, so their ranges are checked in _check_ranges
Positive = Decimal
NonNegative = Decimal
Rate = Decimal
_RANGES: dict[str, tuple[Decimal | None, Decimal | None, str]] = {
    # field: (lowest allowed, highest allowed exclusive, what it is)
    "tick_size": (Decimal(0), None, "positive"),
    "lot_size": (Decimal(0), None, "positive"),
    "min_qty": (Decimal(0), None, "positive"),
    "max_qty": (Decimal(0), None, "positive"),
    "max_market_qty": (Decimal(0), None, "positive"),
    "min_notional": (Decimal(-1), None, "zero or positive"),
    "maker_fee": (Decimal("-0.01"), Decimal("0.1"), "between -0.01 and 0.1"),
    "taker_fee": (Decimal(-1), Decimal("0.1"), "between 0 and 0.1"),
    "clearance_fee": (Decimal(-1), Decimal("0.5"), "between 0 and 0.5"),
    "interest_rate": (Decimal("-0.01"), Decimal("0.01"), "between -0.01 and 0.01"),
    "funding_cap": (Decimal(0), Decimal("0.5"), "positive and below 0.5"),
    "price_band": (Decimal(0), Decimal(1), "between 0 and 1"),
    "impact_margin_notional": (Decimal(0), None, "positive"),
    "max_mark_deviation": (Decimal(0), Decimal(1), "between 0 and 1"),
}


class InstrumentError(ValueError):
    """An instrument file that cannot be used; the message names the field."""


# -- the file format (decimals, validated on decode) -------------------------------------------


class TierSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    notional_floor: NonNegative
    notional_cap: Positive
    max_leverage: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    mmr: Rate


class InstrumentSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2,20}$")]
    tick_size: Positive
    lot_size: Positive
    min_qty: Positive
    max_qty: Positive
    max_market_qty: Positive
    min_notional: NonNegative
    maker_fee: Decimal
    taker_fee: Decimal
    clearance_fee: Rate
    funding_interval_hours: Annotated[int, msgspec.Meta(ge=1, le=24)]
    interest_rate: Decimal
    funding_cap: Rate
    price_band: Rate
    tiers: Annotated[list[TierSpec], msgspec.Meta(min_length=1)]
    impact_margin_notional: Positive | None = None
    """Defaults to 200 USDT / IMR at tier 1's max leverage (PERP-MECHANICS.md §1.3)."""
    mark_method: Literal["median", "index"] = "median"
    market_hours: bool = False
    """True for TradFi underlyings whose index stops while their market is closed."""
    max_mark_deviation: Rate | None = None
    """Bound on |mark / index - 1| (0.03 for XAU/XAG), or none."""
    default_leverage: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """The leverage of an account that never chose one: 20x, or tier 1's max if lower."""


class InstrumentFile(msgspec.Struct, forbid_unknown_fields=True):
    instrument: Annotated[list[InstrumentSpec], msgspec.Meta(min_length=1)]


# -- the engine's view (integers) ---------------------------------------------------------------


class MarginTier(msgspec.Struct, frozen=True, kw_only=True):
    """One bracket of position notional, in cash units; ``cum`` is derived."""

    floor: int
    cap: int
    max_leverage: int
    mmr: int
    cum: int


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A listed perpetual in engine units: ticks, lots, cash units and rates over RATE_SCALE."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    price_decimals: int
    """Decimals a price is written with (0.10 -> 2)."""
    qty_decimals: int
    price_digits_per_tick: int
    """A tick in units of the last written decimal (0.10 -> 10): ticks are not always 1."""
    qty_digits_per_lot: int
    cash_per_tick_lot: int
    """Cash units of one tick on one lot: notional = price_ticks * qty_lots * this."""
    min_qty: int
    max_qty: int
    max_market_qty: int
    min_notional: int
    maker_fee: int
    taker_fee: int
    clearance_fee: int
    funding_interval_ns: int
    interest_rate: int
    funding_cap: int
    price_band: int
    impact_margin_notional: int
    mark_method: str
    market_hours: bool
    max_mark_deviation: int | None
    default_leverage: int
    tiers: tuple[MarginTier, ...]
    tier_caps: tuple[int, ...]

    # -- queries --

    @property
    def max_leverage(self) -> int:
        return self.tiers[0].max_leverage

    def notional(self, price_ticks: int, qty_lots: int) -> int:
        """Cash value of ``qty_lots`` at ``price_ticks`` (signs follow the quantity)."""
        return price_ticks * qty_lots * self.cash_per_tick_lot

    def tier_for(self, notional: int) -> MarginTier | None:
        """The bracket holding ``notional`` (a cap belongs to its own tier), or None above the
        last cap. O(log T)."""
        index = bisect.bisect_left(self.tier_caps, notional)
        return self.tiers[index] if index < len(self.tiers) else None

    def maintenance_margin(self, notional: int) -> int:
        """``notional * MMR - cum`` of the bracket, rounded up (charged to the account)."""
        tier = self.tier_for(notional)
        if tier is None:
            tier = self.tiers[-1]
        return mul_rate_up(notional, tier.mmr) - tier.cum

    def max_leverage_for(self, notional: int) -> int:
        """The highest leverage a position of ``notional`` may use; 0 above the last tier."""
        tier = self.tier_for(notional)
        return tier.max_leverage if tier is not None else 0

    def format_price(self, ticks: int) -> str:
        """Ticks as the decimal string of a price: 911269 ticks of 0.10 -> '91126.90'."""
        return format_fixed(ticks * self.price_digits_per_tick, self.price_decimals)

    def format_qty(self, lots: int) -> str:
        return format_fixed(lots * self.qty_digits_per_lot, self.qty_decimals)

    def price_to_ticks(self, price: Decimal) -> int:
        return to_units(price, self.tick_size)

    def qty_to_lots(self, qty: Decimal) -> int:
        return to_units(qty, self.lot_size)


def _check_ranges(spec: InstrumentSpec, where: str) -> None:
    """Bounds are exclusive except for the zero of "zero or positive" style ranges."""
    for field, (low, high, what) in _RANGES.items():
        value = getattr(spec, field)
        if value is None:
            continue
        ok = value.is_finite() and (low is None or value > low) and (high is None or value < high)
        if what.startswith(("zero or positive", "between 0 and")) and value.is_finite():
            ok = value >= 0 and (high is None or value < high)
        if not ok:
            raise InstrumentError(f"{where}.{field}: {value} must be {what}")
    for number, tier in enumerate(spec.tiers):
        at = f"{where}.tiers[{number}]"
        if not (tier.notional_floor.is_finite() and tier.notional_floor >= 0):
            raise InstrumentError(f"{at}.notional_floor: must be zero or positive")
        if not (tier.notional_cap.is_finite() and tier.notional_cap > 0):
            raise InstrumentError(f"{at}.notional_cap: must be positive")
        if not (tier.mmr.is_finite() and 0 < tier.mmr < 1):
            raise InstrumentError(f"{at}.mmr: {tier.mmr} must be between 0 and 1")


def _build(spec: InstrumentSpec, where: str) -> Instrument:
    def fail(field: str, message: str) -> InstrumentError:
        return InstrumentError(f"{where}.{field}: {message}")

    _check_ranges(spec, where)

    if max(spec.tick_size.adjusted(), spec.lot_size.adjusted()) > 12:
        raise fail("tick_size", "tick_size and lot_size must be below 1e12")
    per_tick_lot = spec.tick_size * spec.lot_size * CASH_SCALE
    if per_tick_lot != per_tick_lot.to_integral_value():
        raise fail("tick_size", "tick_size x lot_size must be a multiple of 1e-8 USDT")

    def lots(field: str) -> int:
        try:
            return to_units(getattr(spec, field), spec.lot_size)
        except UnitError as exc:
            raise fail(field, f"{exc} (lot_size)") from exc

    def cash(field: str, value: Decimal) -> int:
        try:
            return cash_from_decimal(value)
        except UnitError as exc:
            raise fail(field, str(exc)) from exc

    def rate(field: str, value: Decimal) -> int:
        try:
            return rate_from_decimal(value)
        except UnitError as exc:
            raise fail(field, f"{exc} (rates have at most 8 decimals)") from exc

    min_qty, max_qty, max_market_qty = lots("min_qty"), lots("max_qty"), lots("max_market_qty")
    if not min_qty <= max_market_qty <= max_qty:
        raise fail("max_qty", "need min_qty <= max_market_qty <= max_qty")

    tiers: list[MarginTier] = []
    previous: MarginTier | None = None
    for number, tier in enumerate(spec.tiers):
        at = f"tiers[{number}]"
        floor = cash(f"{at}.notional_floor", tier.notional_floor)
        cap = cash(f"{at}.notional_cap", tier.notional_cap)
        mmr = rate(f"{at}.mmr", tier.mmr)
        expected_floor = previous.cap if previous else 0
        if floor != expected_floor:
            raise fail(f"{at}.notional_floor", f"{tier.notional_floor} does not continue from "
                       + ("the previous tier's cap" if previous else "0") + " (tiers must be "
                       "contiguous)")
        if cap <= floor:
            raise fail(f"{at}.notional_cap", "must be above notional_floor")
        if previous is not None and not (mmr > previous.mmr
                                         and tier.max_leverage <= previous.max_leverage):
            raise fail(at, "each tier needs a higher mmr and no higher max_leverage than the "
                       "one before (tiers must be increasing)")
        if Decimal(mmr) * tier.max_leverage > RATE_SCALE:
            raise fail(f"{at}.mmr", "maintenance margin above initial margin at max_leverage")
        # cum_k = floor_k * (MMR_k - MMR_{k-1}) + cum_{k-1}: MM is continuous at every floor
        step = floor * (mmr - (previous.mmr if previous else 0))
        if step % RATE_SCALE:
            raise fail(f"{at}.notional_floor", "floor x mmr step is not a whole 1e-8 USDT")
        cum = step // RATE_SCALE + (previous.cum if previous else 0)
        previous = MarginTier(floor=floor, cap=cap, max_leverage=tier.max_leverage, mmr=mmr,
                              cum=cum)
        tiers.append(previous)

    max_lev = tiers[0].max_leverage
    if spec.impact_margin_notional is None:
        imn = 200 * CASH_SCALE * max_lev
    else:
        imn = cash("impact_margin_notional", spec.impact_margin_notional)
    default_leverage = min(20, max_lev) if spec.default_leverage is None else spec.default_leverage
    if default_leverage > max_lev:
        raise fail("default_leverage", f"{default_leverage} is above tier 1's {max_lev}")

    return Instrument(
        symbol=spec.symbol,
        tick_size=spec.tick_size,
        lot_size=spec.lot_size,
        price_decimals=decimals_of(spec.tick_size),
        qty_decimals=decimals_of(spec.lot_size),
        price_digits_per_tick=int(spec.tick_size.scaleb(decimals_of(spec.tick_size))),
        qty_digits_per_lot=int(spec.lot_size.scaleb(decimals_of(spec.lot_size))),
        cash_per_tick_lot=int(per_tick_lot),
        min_qty=min_qty,
        max_qty=max_qty,
        max_market_qty=max_market_qty,
        min_notional=cash("min_notional", spec.min_notional),
        maker_fee=rate("maker_fee", spec.maker_fee),
        taker_fee=rate("taker_fee", spec.taker_fee),
        clearance_fee=rate("clearance_fee", spec.clearance_fee),
        funding_interval_ns=spec.funding_interval_hours * 3600 * NS_PER_SECOND,
        interest_rate=rate("interest_rate", spec.interest_rate),
        funding_cap=rate("funding_cap", spec.funding_cap),
        price_band=rate("price_band", spec.price_band),
        impact_margin_notional=imn,
        mark_method=spec.mark_method,
        market_hours=spec.market_hours,
        max_mark_deviation=(None if spec.max_mark_deviation is None
                            else rate("max_mark_deviation", spec.max_mark_deviation)),
        default_leverage=default_leverage,
        tiers=tuple(tiers),
        tier_caps=tuple(t.cap for t in tiers),
    )


def parse_instruments(text: str | bytes) -> dict[str, Instrument]:
    """Parse a TOML instrument file into instruments keyed by symbol, in file order.

    Raises:
        InstrumentError: invalid TOML, a missing, unknown or out-of-range field, tiers that are
            not contiguous or increasing, or a duplicate symbol. The message names the field.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InstrumentError(f"instrument file is not UTF-8: {exc}") from exc
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentError(f"instrument file is not valid TOML: {exc}") from exc
    try:
        parsed = msgspec.convert(raw, InstrumentFile)
    except msgspec.ValidationError as exc:
        raise InstrumentError(f"instrument file: {exc}") from exc
    instruments: dict[str, Instrument] = {}
    for number, spec in enumerate(parsed.instrument):
        where = f"instrument[{number}] ({spec.symbol})"
        if spec.symbol in instruments:
            raise InstrumentError(f"{where}.symbol: listed twice")
        instruments[spec.symbol] = _build(spec, where)
    return instruments


def default_instruments() -> dict[str, Instrument]:
    """BTCUSDT, XAUUSDT and XAGUSDT as PERP-MECHANICS.md §3 specifies them.

    The file is read-only package data, not user data, so reading it here does not break the
    rule that only engine/journal.py touches files.
    """
    return parse_instruments(resources.files("engine").joinpath("instruments.toml").read_bytes())
