"""A small instrument for the seeded engine streams (test_fast_paths, test_ladder_recount):
ticks of 0.01 around a mid of 1 000.00, a 5 % price band, and two margin tiers (50x to
20 000 USDT, 10x above) so that rich accounts meet the tier check and poor ones the margin."""

from __future__ import annotations

from engine import Instrument, parse_instruments

MID = 100_000
"""Ticks: 1 000.00."""
START_NS = 1_767_780_000 * 10**9


def two_tier(symbol: str) -> dict[str, Instrument]:
    return dict(parse_instruments(f"""
[[instrument]]
symbol = "{symbol}"
tick_size = 0.01
lot_size = 0.001
min_qty = 0.001
max_qty = 40
max_market_qty = 40
min_notional = 5
maker_fee = 0.0002
taker_fee = 0.0005
clearance_fee = 0.0125
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = 0.05
mark_method = "index"
tiers = [
  {{ notional_floor = 0, notional_cap = 20000, max_leverage = 50, mmr = 0.01 }},
  {{ notional_floor = 20000, notional_cap = 1000000, max_leverage = 10, mmr = 0.05 }},
]
"""))
