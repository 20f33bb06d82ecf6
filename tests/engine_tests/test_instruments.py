"""engine/instrument.py: the default contract specifications, derived tiers, file validation.

PERP-MECHANICS.md §3.1 / §3.2 give the specifications of BTCUSDT, XAUUSDT and XAGUSDT, §1.9
the tier recursion ``cum_k = floor_k x (MMR_k - MMR_{k-1}) + cum_{k-1}`` and worked examples
E3 (maintenance amount, tiered MM) and E6 (impact margin notional). Expected values are typed
in from the document and compared with what the engine derives from ``instruments.toml``
(which types in no ``cum``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import InstrumentError, default_instruments, parse_instruments
from engine.instrument import Instrument, MarginTier
from engine.units import CASH_SCALE, NS_PER_SECOND, RATE_SCALE, mul_rate_up

D = Decimal
USDT = CASH_SCALE
"""One USDT in cash units."""
HOUR_NS = 3600 * NS_PER_SECOND
DEFAULT_TOML = resources.files("engine").joinpath("instruments.toml").read_text("utf-8")

# -- PERP-MECHANICS.md tables, typed in: (floor, cap, max leverage, MMR, cum) in USDT ----------

BTC_TIERS_DOC = [  # §1.9 snapshot
    (0, 50_000, 125, "0.004", 0),
    (50_000, 250_000, 100, "0.005", 50),
    (250_000, 3_000_000, 50, "0.01", 1_300),
    (3_000_000, 20_000_000, 20, "0.025", 46_300),
    (20_000_000, 40_000_000, 10, "0.05", 546_300),
    (40_000_000, 100_000_000, 5, "0.10", 2_546_300),
    (100_000_000, 120_000_000, 4, "0.125", 5_046_300),
    (120_000_000, 200_000_000, 3, "0.15", 8_046_300),
    (200_000_000, 300_000_000, 2, "0.25", 28_046_300),
    (300_000_000, 500_000_000, 1, "0.50", 103_046_300),
]
XAU_TIERS_DOC = [  # §3.2
    (0, 500_000, 50, "0.01", 0),
    (500_000, 2_000_000, 25, "0.02", 5_000),
    (2_000_000, 5_000_000, 10, "0.05", 65_000),
    (5_000_000, 10_000_000, 5, "0.10", 315_000),
    (10_000_000, 20_000_000, 2, "0.25", 1_815_000),
]
XAG_TIERS_DOC = [  # §3.2
    (0, 250_000, 50, "0.01", 0),
    (250_000, 1_000_000, 25, "0.02", 2_500),
    (1_000_000, 3_000_000, 10, "0.05", 32_500),
    (3_000_000, 6_000_000, 5, "0.10", 182_500),
    (6_000_000, 10_000_000, 2, "0.25", 1_082_500),
]
TIERS_DOC = {"BTCUSDT": BTC_TIERS_DOC, "XAUUSDT": XAU_TIERS_DOC, "XAGUSDT": XAG_TIERS_DOC}

# §3.1 in engine units: ticks, lots, cash units (1e-8 USDT) and rates over 1e8
SPEC_DOC = {
    "BTCUSDT": dict(
        tick_size=D("0.10"), lot_size=D("0.001"), price_decimals=2, qty_decimals=3,
        cash_per_tick_lot=10_000,  # 0.10 USDT x 0.001 = 0.0001 USDT
        min_qty=1, max_qty=1_000_000, max_market_qty=120_000,  # 0.001 / 1 000 / 120 BTC
        min_notional=100 * USDT,
        maker_fee=20_000, taker_fee=50_000,  # 0.02 % / 0.05 %
        clearance_fee=1_250_000,  # 1.25 %
        funding_interval_ns=8 * HOUR_NS, interest_rate=10_000,  # 0.01 % / 8 h
        funding_cap=300_000,  # 0.30 % = 0.75 x 0.40 %
        price_band=5_000_000,  # 5 %
        impact_margin_notional=25_000 * USDT,
        mark_method="median", market_hours=False, max_mark_deviation=None,
    ),
    "XAUUSDT": dict(
        tick_size=D("0.01"), lot_size=D("0.001"), price_decimals=2, qty_decimals=3,
        cash_per_tick_lot=1_000,  # 0.01 USDT x 0.001 = 0.00001 USDT
        min_qty=1, max_qty=1_000_000, max_market_qty=100_000,  # 0.001 / 1 000 / 100 oz
        min_notional=5 * USDT,
        maker_fee=20_000, taker_fee=50_000,
        clearance_fee=1_000_000,  # 1.0 %
        funding_interval_ns=8 * HOUR_NS,  # 8 h from 2026-01-30 12:15 UTC
        interest_rate=10_000,
        funding_cap=50_000,  # 0.05 % from 2026-01-30 16:00 UTC
        price_band=3_000_000,  # 3 %
        impact_margin_notional=10_000 * USDT,
        mark_method="median", market_hours=True, max_mark_deviation=3_000_000,  # 3 %
    ),
    "XAGUSDT": dict(
        tick_size=D("0.01"), lot_size=D("0.001"), price_decimals=2, qty_decimals=3,
        cash_per_tick_lot=1_000,
        min_qty=1, max_qty=50_000_000, max_market_qty=5_000_000,  # 0.001 / 50 000 / 5 000 oz
        min_notional=5 * USDT,
        maker_fee=20_000, taker_fee=50_000,
        clearance_fee=1_000_000,
        funding_interval_ns=8 * HOUR_NS,
        interest_rate=10_000,
        funding_cap=50_000,
        price_band=3_000_000,
        impact_margin_notional=10_000 * USDT,
        mark_method="median", market_hours=True, max_mark_deviation=3_000_000,
    ),
}


def _rate(text: str) -> int:
    """A decimal fraction as an integer over RATE_SCALE, computed without units.py."""
    value = Fraction(text) * RATE_SCALE
    assert value.denominator == 1, text
    return int(value)


def _recursion(table: list[tuple[int, int, int, str, int]]) -> list[Fraction]:
    """cum_k = floor_k x (MMR_k - MMR_{k-1}) + cum_{k-1}, in exact fractions of USDT."""
    cums: list[Fraction] = []
    previous_mmr, previous_cum = Fraction(0), Fraction(0)
    for floor, _cap, _lev, mmr, _cum in table:
        previous_cum = floor * (Fraction(mmr) - previous_mmr) + previous_cum
        previous_mmr = Fraction(mmr)
        cums.append(previous_cum)
    return cums


def _edit(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace ``old`` in ``text``, insisting it occurs exactly ``count`` times."""
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times, not {count}"
    return text.replace(old, new)


def _only(text: str, symbol: str) -> str:
    """The default file cut down to the one ``[[instrument]]`` block of ``symbol``."""
    blocks = text.split("[[instrument]]")
    picked = [b for b in blocks[1:] if f'symbol = "{symbol}"' in b]
    assert len(picked) == 1, symbol
    return "[[instrument]]" + picked[0]


def small_toml(symbol: str = "TESTUSDT", tiers: str | None = None, **fields: str) -> str:
    """A minimal one-instrument file; ``fields`` override or add lines (TOML value text)."""
    values = {
        "symbol": f'"{symbol}"', "tick_size": "0.01", "lot_size": "0.001", "min_qty": "0.001",
        "max_qty": "100", "max_market_qty": "10", "min_notional": "5", "maker_fee": "0.0002",
        "taker_fee": "0.0005", "clearance_fee": "0.01", "funding_interval_hours": "8",
        "interest_rate": "0.0001", "funding_cap": "0.003", "price_band": "0.05",
    }
    values.update(fields)
    if tiers is None:
        tiers = "[{ notional_floor = 0, notional_cap = 1000000, max_leverage = 20, mmr = 0.025 }]"
    lines = [f"{name} = {value}" for name, value in values.items() if value is not None]
    return "[[instrument]]\n" + "\n".join(lines) + f"\ntiers = {tiers}\n"


def parse_one(text: str) -> Instrument:
    instruments = parse_instruments(text)
    assert len(instruments) == 1, f"expected one instrument, got {list(instruments)}"
    return next(iter(instruments.values()))


@pytest.fixture(scope="module")
def defaults() -> dict[str, Instrument]:
    return default_instruments()


# -- §3.1: the default specifications ----------------------------------------------------------


def test_default_symbols_in_file_order(defaults: dict[str, Instrument]) -> None:
    """The defaults list exactly BTCUSDT, XAUUSDT, XAGUSDT, in that order."""
    assert list(defaults) == ["BTCUSDT", "XAUUSDT", "XAGUSDT"], "default symbols"
    for symbol, instrument in defaults.items():
        assert instrument.symbol == symbol, "keyed by its own symbol"


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XAUUSDT", "XAGUSDT"])
def test_default_specification_matches_perp_mechanics(defaults: dict[str, Instrument],
                                                      symbol: str) -> None:
    """Every §3.1 field of the default instrument, in engine units.

    The maker/taker fees (0.02 % / 0.05 %) are not in §3.1; they are the file's values.
    """
    instrument = defaults[symbol]
    for field, expected in SPEC_DOC[symbol].items():
        actual = getattr(instrument, field)
        assert actual == expected, f"{symbol}.{field}: {actual!r}, expected {expected!r}"
        assert type(actual) is type(expected), f"{symbol}.{field} has type {type(actual)}"


@pytest.mark.parametrize(("symbol", "max_leverage"),
                         [("BTCUSDT", 125), ("XAUUSDT", 50), ("XAGUSDT", 50)])
def test_default_max_leverage_and_default_leverage(defaults: dict[str, Instrument], symbol: str,
                                                   max_leverage: int) -> None:
    """Max leverage is tier 1's (§3.1: BTC 125x, XAU/XAG 50x); the default 20x is below it."""
    instrument = defaults[symbol]
    assert instrument.max_leverage == max_leverage, f"{symbol} max leverage"
    assert instrument.default_leverage == 20, f"{symbol} default leverage"
    assert instrument.default_leverage <= instrument.max_leverage, "default within tier 1"


def test_notional_is_ticks_times_lots_times_cash_per_tick_lot(
        defaults: dict[str, Instrument]) -> None:
    """1 BTC (1 000 lots) at 90 000.0 (900 000 ticks) is 90 000 USDT; signs follow qty."""
    btc = defaults["BTCUSDT"]
    assert btc.price_to_ticks(D("90000.0")) == 900_000, "price in ticks"
    assert btc.qty_to_lots(D("1")) == 1_000, "qty in lots"
    assert btc.notional(900_000, 1_000) == 90_000 * USDT, "notional of 1 BTC"
    assert btc.notional(900_000, -1_000) == -90_000 * USDT, "short notional is negative"
    assert btc.format_price(900_001) == "90000.10", "a tick of 0.10 is written back as such"
    assert btc.format_qty(1_000) == "1.000", "lots written with the lot's decimals"
    xag = defaults["XAGUSDT"]
    assert xag.notional(xag.price_to_ticks(D("78.50")), xag.qty_to_lots(D("2"))) == 157 * USDT


# -- §1.9 / §3.2: tiers and the derived maintenance amount ---------------------------------------


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XAUUSDT", "XAGUSDT"])
def test_doc_tables_satisfy_the_recursion(symbol: str) -> None:
    """The cum column of every table in the document reproduces by the §1.9 recursion."""
    table = TIERS_DOC[symbol]
    derived = _recursion(table)
    typed = [Fraction(row[4]) for row in table]
    assert derived == typed, f"{symbol}: recursion {derived} != table {typed}"


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XAUUSDT", "XAGUSDT"])
def test_default_tiers_equal_the_tables(defaults: dict[str, Instrument], symbol: str) -> None:
    """Floor, cap, max leverage, MMR and the derived cum of every tier equal §1.9 / §3.2.

    instruments.toml types in no cum: the engine derives it.
    """
    assert not re.search(r"\bcum\s*=", DEFAULT_TOML), "cum must not be typed in the file"
    expected = [MarginTier(floor=floor * USDT, cap=cap * USDT, max_leverage=lev, mmr=_rate(mmr),
                           cum=cum * USDT)
                for floor, cap, lev, mmr, cum in TIERS_DOC[symbol]]
    actual = list(defaults[symbol].tiers)
    assert len(actual) == len(expected), f"{symbol}: {len(actual)} tiers"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert got == want, f"{symbol} tier {number}: {got} != {want}"
    assert defaults[symbol].tier_caps == tuple(t.cap for t in expected), f"{symbol} caps"


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XAUUSDT", "XAGUSDT"])
def test_maintenance_margin_is_continuous_at_every_boundary(defaults: dict[str, Instrument],
                                                            symbol: str) -> None:
    """MM of tier k at its cap equals MM of tier k+1 at its floor (the point of cum)."""
    tiers = defaults[symbol].tiers
    for lower, upper in zip(tiers, tiers[1:], strict=False):
        boundary = lower.cap
        assert upper.floor == boundary, f"{symbol}: tiers contiguous at {boundary}"
        below = boundary * lower.mmr - lower.cum * RATE_SCALE
        above = boundary * upper.mmr - upper.cum * RATE_SCALE
        assert below == above, (f"{symbol}: MM jumps at {boundary / USDT} USDT: "
                                f"{below / RATE_SCALE / USDT} vs {above / RATE_SCALE / USDT}")
        assert defaults[symbol].maintenance_margin(boundary) * RATE_SCALE == below, (
            f"{symbol}: maintenance_margin at the cap {boundary / USDT}")


@st.composite
def tier_tables(draw: st.DrawFn) -> list[tuple[int, int, int, str, int]]:
    """Random valid tables: whole-USDT caps, MMR rising in steps of 0.0001, leverage falling."""
    count = draw(st.integers(min_value=1, max_value=8))
    caps = sorted(draw(st.sets(st.integers(min_value=1, max_value=10**9), min_size=count,
                               max_size=count)))
    steps = draw(st.lists(st.integers(min_value=1, max_value=500), min_size=count,
                          max_size=count))
    rows, floor, mmr = [], 0, 0
    for cap, step in zip(caps, steps, strict=True):
        mmr += step
        leverage = min(1000, max(1, 10_000 // (2 * mmr)))  # MMR at most half the IMR
        if rows:
            leverage = min(leverage, rows[-1][2])
        rows.append((floor, cap, leverage, f"{D(mmr).scaleb(-4):f}", 0))
        floor = cap
    return rows


@given(table=tier_tables())
def test_derived_cum_follows_the_recursion_for_any_table(
        table: list[tuple[int, int, int, str, int]]) -> None:
    """For any valid table the engine's cum is the exact recursion and MM is continuous."""
    rows = ", ".join(
        f"{{ notional_floor = {floor}, notional_cap = {cap}, max_leverage = {lev}, "
        f"mmr = {mmr} }}"
        for floor, cap, lev, mmr, _ in table)
    instrument = parse_one(small_toml(tiers=f"[{rows}]", default_leverage="1"))
    expected = [int(cum * USDT) for cum in _recursion(table)]
    assert [t.cum for t in instrument.tiers] == expected, "cum by the recursion"
    for lower, upper in zip(instrument.tiers, instrument.tiers[1:], strict=False):
        assert (lower.cap * lower.mmr - lower.cum * RATE_SCALE
                == lower.cap * upper.mmr - upper.cum * RATE_SCALE), f"MM jumps at {lower.cap}"


# -- E3 ------------------------------------------------------------------------------------------


def test_e3_tiered_maintenance_margin(defaults: dict[str, Instrument]) -> None:
    """E3: 264 000 USDT on BTCUSDT is tier 3 (MMR 1 %, cum 1 300) and MM = 1 340.

    Continuity at 250 000: tier 2 gives 1 250 - 50 = 1 200, tier 3 gives 2 500 - 1 300 = 1 200.
    """
    btc = defaults["BTCUSDT"]
    tier = btc.tier_for(264_000 * USDT)
    assert tier is not None and tier == btc.tiers[2], f"264 000 is in tier 3, got {tier}"
    assert (tier.mmr, tier.cum) == (1_000_000, 1_300 * USDT), "tier 3: MMR 1 %, cum 1 300"
    assert btc.maintenance_margin(264_000 * USDT) == 1_340 * USDT, "MM = 2 640 - 1 300"

    tier2, tier3 = btc.tiers[1], btc.tiers[2]
    at = 250_000 * USDT
    assert mul_rate_up(at, tier2.mmr) - tier2.cum == 1_200 * USDT, "tier 2: 1 250 - 50"
    assert mul_rate_up(at, tier3.mmr) - tier3.cum == 1_200 * USDT, "tier 3: 2 500 - 1 300"
    assert btc.maintenance_margin(at) == 1_200 * USDT, "250 000 itself is in tier 2"


def test_e3_level_5_amount_of_the_older_table() -> None:
    """E3 doc example: level-5 amount = 5 000 000 x (5 % - 2.5 %) + 16 300 = 141 300.

    Setup: an instrument whose tiers reproduce the older Binance table whose tier 5 starts at
    5 M (tier 4: 1 M - 5 M at 2.5 %, cum 16 300).
    """
    tiers = """[
      { notional_floor = 0,        notional_cap = 50000,    max_leverage = 125, mmr = 0.004 },
      { notional_floor = 50000,    notional_cap = 250000,   max_leverage = 100, mmr = 0.005 },
      { notional_floor = 250000,   notional_cap = 1000000,  max_leverage = 50,  mmr = 0.01 },
      { notional_floor = 1000000,  notional_cap = 5000000,  max_leverage = 20,  mmr = 0.025 },
      { notional_floor = 5000000,  notional_cap = 20000000, max_leverage = 10,  mmr = 0.05 },
    ]"""
    old = parse_one(small_toml("OLDBTCUSDT", tiers=tiers))
    cums = [t.cum for t in old.tiers]
    assert cums == [0, 50 * USDT, 1_300 * USDT, 16_300 * USDT, 141_300 * USDT], (
        f"derived cums {[c / USDT for c in cums]}")
    level_5 = 5_000_000 * USDT * (5_000_000 - 2_500_000) // RATE_SCALE + 16_300 * USDT
    assert old.tiers[4].cum == level_5, "5 000 000 x (5 % - 2.5 %) + 16 300"


# -- E6 ------------------------------------------------------------------------------------------


def test_e6_impact_margin_notional(defaults: dict[str, Instrument]) -> None:
    """E6: IMN = 200 USDT / IMR at max leverage: BTC 125x -> 25 000, XAU/XAG 50x -> 10 000.

    The default file gives no impact_margin_notional for any symbol: all are derived.
    """
    assert "impact_margin_notional =" not in DEFAULT_TOML, "IMN is derived, not typed in"
    assert defaults["BTCUSDT"].impact_margin_notional == 25_000 * USDT, "BTC IMN"
    assert defaults["XAUUSDT"].impact_margin_notional == 10_000 * USDT, "XAU IMN"
    assert defaults["XAGUSDT"].impact_margin_notional == 10_000 * USDT, "XAG IMN"


def test_e6_twenty_x_instrument_and_explicit_value() -> None:
    """E6: a 20x instrument (IMR 5 %) -> IMN 4 000 USDT; an explicit value in the file wins."""
    derived = parse_one(small_toml("BNBUSDT"))
    assert derived.max_leverage == 20, "tier 1 is 20x"
    assert derived.impact_margin_notional == 4_000 * USDT, "200 / 5 %"
    given = parse_one(small_toml("BNBUSDT", impact_margin_notional="1234.5"))
    assert given.impact_margin_notional == D("1234.5") * USDT, "explicit IMN is used as given"


# -- tier_for, max_leverage_for ------------------------------------------------------------------


def test_tier_for_boundaries(defaults: dict[str, Instrument]) -> None:
    """A cap belongs to its own tier, one cash unit more to the next; above the last cap: None.

    Setup: BTCUSDT tiers 1 (0 - 50 000) and 2 (50 000 - 250 000), last cap 500 000 000.
    """
    btc = defaults["BTCUSDT"]
    t1, t2, last = btc.tiers[0], btc.tiers[1], btc.tiers[-1]
    assert btc.tier_for(0) == t1, "zero notional is tier 1"
    assert btc.tier_for(1) == t1, "smallest notional is tier 1"
    assert btc.tier_for(50_000 * USDT) == t1, "the cap 50 000 belongs to tier 1"
    assert btc.tier_for(50_000 * USDT + 1) == t2, "just above 50 000 is tier 2"
    assert btc.tier_for(250_000 * USDT) == t2, "the cap 250 000 belongs to tier 2"
    assert btc.tier_for(500_000_000 * USDT) == last, "the last cap belongs to the last tier"
    assert btc.tier_for(500_000_000 * USDT + 1) is None, "above the last cap: no tier"
    for tier in btc.tiers:
        assert btc.tier_for(tier.cap) == tier, f"cap {tier.cap / USDT} in its own tier"
        assert btc.tier_for(tier.floor + 1) == tier, f"floor {tier.floor / USDT} + 1 in tier"


def test_max_leverage_for(defaults: dict[str, Instrument]) -> None:
    """Max leverage follows the tier of the notional; 0 above the last cap."""
    btc, xau = defaults["BTCUSDT"], defaults["XAUUSDT"]
    assert btc.max_leverage_for(0) == 125, "empty position: tier 1"
    assert btc.max_leverage_for(50_000 * USDT) == 125, "at the tier-1 cap"
    assert btc.max_leverage_for(50_000 * USDT + 1) == 100, "just above the tier-1 cap"
    assert btc.max_leverage_for(264_000 * USDT) == 50, "E3 notional: tier 3"
    assert btc.max_leverage_for(500_000_000 * USDT) == 1, "last tier"
    assert btc.max_leverage_for(500_000_000 * USDT + 1) == 0, "above the last tier"
    assert xau.max_leverage_for(500_000 * USDT) == 50, "XAU tier-1 cap"
    assert xau.max_leverage_for(500_000 * USDT + 1) == 25, "XAU tier 2"
    assert xau.max_leverage_for(20_000_000 * USDT + 1) == 0, "XAU above the last tier"


def test_maintenance_margin_above_the_last_cap_uses_the_last_tier(
        defaults: dict[str, Instrument]) -> None:
    """Beyond the table, MM keeps the last tier's rate and cum (no tier to fall back on)."""
    btc = defaults["BTCUSDT"]
    notional = 600_000_000 * USDT
    assert btc.maintenance_margin(notional) == 300_000_000 * USDT - 103_046_300 * USDT, (
        "600 M x 50 % - 103 046 300")


def test_maintenance_margin_rounds_up(defaults: dict[str, Instrument]) -> None:
    """MM is charged, so ``notional x MMR`` rounds up: 1 cash unit at 0.4 % is 1, not 0."""
    btc = defaults["BTCUSDT"]
    assert btc.maintenance_margin(1) == 1, "0.004 cash units round up to 1"
    assert btc.maintenance_margin(250) == 1, "exactly 1 cash unit"
    assert btc.maintenance_margin(251) == 2, "1.004 round up to 2"


# -- invalid files ---------------------------------------------------------------------------------

BTC_TIER_2 = ("{ notional_floor = 50000,     notional_cap = 250000,    max_leverage = 100, "
              "mmr = 0.005 }")
BTC_TIER_3 = ("{ notional_floor = 250000,    notional_cap = 3000000,   max_leverage = 50,  "
              "mmr = 0.01 }")

INVALID = [
    pytest.param(
        _edit(DEFAULT_TOML, BTC_TIER_2, BTC_TIER_2.replace("floor = 50000,", "floor = 60000,")),
        ["instrument[0] (BTCUSDT).tiers[1].notional_floor", "contiguous"],
        id="gap-between-tiers"),
    pytest.param(
        _edit(DEFAULT_TOML, BTC_TIER_3, BTC_TIER_3.replace("mmr = 0.01 ", "mmr = 0.005")),
        ["instrument[0] (BTCUSDT).tiers[2]", "increasing"],
        id="mmr-not-increasing"),
    pytest.param(
        _edit(DEFAULT_TOML, BTC_TIER_3, BTC_TIER_3.replace("leverage = 50,", "leverage = 110,")),
        ["instrument[0] (BTCUSDT).tiers[2]", "increasing"],
        id="leverage-rising"),
    pytest.param(
        _edit(DEFAULT_TOML, "min_notional = 100\n", "min_notional = 100\nlot_szie = 0.001\n"),
        ["lot_szie", "unknown field", "$.instrument[0]"],
        id="unknown-field"),
    pytest.param(
        _edit(DEFAULT_TOML, "tick_size = 0.10\n", ""),
        ["tick_size", "missing", "$.instrument[0]"],
        id="missing-tick-size"),
    pytest.param(
        _edit(DEFAULT_TOML, "tiers = [\n  { notional_floor = 0,         notional_cap = 50000, ",
              "tiers = [\n  { notional_floor = 0, "),
        ["notional_cap", "missing"],
        id="missing-tier-field"),
    pytest.param(
        _edit(DEFAULT_TOML, "taker_fee = 0.0005\nclearance_fee = 0.0125",
              "taker_fee = -0.0005\nclearance_fee = 0.0125"),
        ["instrument[0] (BTCUSDT).taker_fee", "-0.0005"],
        id="negative-taker-fee"),
    pytest.param(
        _edit(DEFAULT_TOML, "clearance_fee = 0.0125", "clearance_fee = -0.0125"),
        ["instrument[0] (BTCUSDT).clearance_fee"],
        id="negative-clearance-fee"),
    pytest.param(
        _edit(_only(DEFAULT_TOML, "XAUUSDT"), "maker_fee = 0.0002", "maker_fee = -0.02"),
        ["instrument[0] (XAUUSDT).maker_fee"],
        id="maker-rebate-too-large"),
    pytest.param(
        small_toml(tick_size="0.00001", lot_size="0.0001", min_qty="0.001"),
        ["instrument[0] (TESTUSDT).tick_size", "1e-8"],
        id="tick-times-lot-below-1e-8"),
    pytest.param(
        _edit(DEFAULT_TOML, "min_qty = 0.001\nmax_qty = 50000",
              "min_qty = 0.0015\nmax_qty = 50000"),
        ["instrument[2] (XAGUSDT).min_qty", "0.0015", "0.001"],
        id="off-step-min-qty"),
    pytest.param(
        _edit(DEFAULT_TOML, 'symbol = "XAGUSDT"', 'symbol = "BTCUSDT"'),
        ["instrument[2] (BTCUSDT).symbol", "listed twice"],
        id="duplicate-symbol"),
    pytest.param(
        "this is not TOML {",
        ["not valid TOML"],
        id="not-toml"),
    pytest.param(
        b"\xff\xfe[[instrument]]",
        ["not UTF-8"],
        id="not-utf8"),
    pytest.param(
        _edit(_only(DEFAULT_TOML, "XAUUSDT"), "max_mark_deviation = 0.03",
              "max_mark_deviation = 0.03\ndefault_leverage = 51"),
        ["instrument[0] (XAUUSDT).default_leverage", "51", "50"],
        id="default-leverage-above-tier-1"),
    pytest.param(
        small_toml(max_market_qty="1000"),
        ["max_qty", "max_market_qty"],
        id="market-qty-above-max-qty"),
    pytest.param(
        small_toml(tiers="[{ notional_floor = 0, notional_cap = 1000, max_leverage = 50, "
                         "mmr = 0.05 }]"),
        ["tiers[0].mmr", "initial margin"],
        id="mmr-above-initial-margin"),
    pytest.param(
        small_toml(tiers="[{ notional_floor = 100, notional_cap = 1000, max_leverage = 20, "
                         "mmr = 0.01 }]"),
        ["tiers[0].notional_floor", "contiguous"],
        id="first-floor-not-zero"),
    pytest.param(
        small_toml(tiers="[]"),
        ["tiers", "length"],
        id="no-tiers"),
    pytest.param(
        small_toml(tick_size="nan"),
        ["tick_size"],
        id="nan-tick"),
    pytest.param(
        small_toml(funding_interval_hours="0"),
        ["funding_interval_hours"],
        id="zero-funding-interval"),
    pytest.param(
        small_toml(symbol="btc-usdt"),
        ["symbol"],
        id="bad-symbol"),
]


@pytest.mark.parametrize(("text", "fragments"), INVALID)
def test_invalid_file_names_the_field(text: str | bytes, fragments: list[str]) -> None:
    """An unusable file raises InstrumentError whose one-line message names the field."""
    with pytest.raises(InstrumentError) as caught:
        parse_instruments(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "\n" not in message, f"message is one line: {message!r}"


def test_edits_of_the_default_file_are_otherwise_valid() -> None:
    """The invalid cases above differ from a valid file only by their one edit."""
    assert parse_instruments(DEFAULT_TOML).keys() == {"BTCUSDT", "XAUUSDT", "XAGUSDT"}
    assert set(parse_instruments(_only(DEFAULT_TOML, "XAUUSDT"))) == {"XAUUSDT"}
    assert set(parse_instruments(small_toml())) == {"TESTUSDT"}


def test_maker_rebate_and_zero_min_notional_are_allowed() -> None:
    """A small negative maker fee (a rebate) and a zero min notional are valid."""
    instrument = parse_one(small_toml(maker_fee="-0.0001", min_notional="0"))
    assert instrument.maker_fee == -10_000, "rebate of 0.01 %"
    assert instrument.min_notional == 0, "no min notional"


def test_decimals_are_read_exactly() -> None:
    """TOML floats are read as decimals: 0.1 stays exactly one tenth, never a binary float."""
    instrument = parse_one(small_toml(tick_size="0.1", lot_size="0.0001", min_qty="0.0001"))
    assert instrument.tick_size == D("0.1"), "exact tick"
    assert instrument.cash_per_tick_lot == 1_000, "0.1 x 0.0001 = 1e-5 USDT"


def test_low_leverage_instrument_without_default_leverage() -> None:
    """An instrument whose tier 1 allows less than 20x, with no default_leverage in the file,
    is usable: the default leverage it gets stays within tier 1.

    Setup: one tier, max 10x, MMR 5 %; the file does not mention default_leverage.
    """
    tiers = "[{ notional_floor = 0, notional_cap = 1000000, max_leverage = 10, mmr = 0.05 }]"
    text = small_toml(tiers=tiers)
    assert "default_leverage" not in text, "the file leaves default_leverage out"
    try:
        instrument = parse_one(text)
    except InstrumentError as exc:
        pytest.fail(f"a 10x instrument without default_leverage is refused: {exc}")
    assert instrument.default_leverage == 10, (
        f"default leverage {instrument.default_leverage}: 20x, or tier 1's max if lower")
