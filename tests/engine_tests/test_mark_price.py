"""The mark price the engine computes on the clock (PERP-MECHANICS.md §1.2).

Binance's median of P1 = index x (1 + last rate x time to funding / interval), P2 = index + the
30-second average of (mid - index), and the last price; for gold and silver bounded to 3 % of
the index, and following the book (an EWMA of the mid) while the metals market is closed.
"""

from __future__ import annotations

from conftest import Venue, of

SILVER, GOLD = "XAGUSDT", "XAUUSDT"


def quoted(v: Venue, symbol: str, bid: str, ask: str) -> None:
    v("deposit", account="mm", amount="10000000")
    for side, price in (("buy", bid), ("sell", ask)):
        v("place", account="mm", symbol=symbol, side=side, type="limit", qty="1", price=price)


def test_the_mark_is_the_median_of_index_basis_and_last() -> None:
    """Index 78.50, book 80.00 / 80.20 (mid 80.10), one trade at 80.20. After a minute of
    samples P2 = 80.10, P1 = 78.50, last = 80.20: the mark is 80.10."""
    v = Venue()
    v("time", ts="2026-01-07T10:00:00Z")
    v("index", symbol=SILVER, price="78.50")
    quoted(v, SILVER, "80.00", "80.40")
    v("deposit", account="t", amount="1000")
    v("place", account="t", symbol=SILVER, side="buy", type="limit", qty="1", price="80.40")
    v("place", account="mm", symbol=SILVER, side="sell", type="limit", qty="1", price="80.20")
    [mark] = of(v("time", ts="2026-01-07T10:01:00Z"), "mark")
    assert (mark["index"], mark["last"], mark["mark"]) == ("78.50", "80.40", "80.10")


def test_metals_marks_stay_within_three_percent_of_the_index() -> None:
    """Book 80.00 / 80.20 after a trade at 80.20, a minute of samples (basis 1.60), then the
    index falls to 76.00: median(76.00, 77.60, 80.20) = 77.60, inside 76 x 1.03 = 78.28. A
    minute later the basis is 4.10 (P2 = 80.10) and the median 80.10 is capped at 78.28."""
    v = Venue()
    v("time", ts="2026-01-07T10:00:00Z")
    v("index", symbol=SILVER, price="78.50")
    quoted(v, SILVER, "80.00", "80.20")
    v("place", account="mm", symbol=SILVER, side="sell", type="limit", qty="1", price="80.20")
    v("deposit", account="t", amount="1000")
    v("place", account="t", symbol=SILVER, side="buy", type="market", qty="1")
    v("time", ts="2026-01-07T10:01:00Z")
    assert v("index", symbol=SILVER, price="76.00")[0]["mark"] == "77.60"
    [mark] = of(v("time", ts="2026-01-07T10:02:00Z"), "mark")
    assert (mark["index"], mark["mark"]) == ("76.00", "78.28")


def test_while_the_metals_market_is_closed_the_mark_follows_the_book() -> None:
    """Friday 21:00 UTC the market is open: with no trades the mark is P1 = the index. On
    Saturday the index is frozen at 4 500 and the mark is the EWMA of the 4 600 mid."""
    v = Venue()
    v("time", ts="2026-01-09T21:00:00Z")
    v("index", symbol=GOLD, price="4500.00")
    quoted(v, GOLD, "4590.00", "4610.00")
    assert v.book(GOLD)["mark"] == "4500.00"
    events = v("time", ts="2026-01-10T12:00:00Z")
    assert of(events, "mark")[-1]["mark"] == "4600.00"
    assert of(events, "mark")[-1]["index"] == "4500.00"


def test_only_market_hours_symbols_feed_the_off_hours_average() -> None:
    """BTC trades around the clock: its mark never reads the off-hours EWMA, so the clock
    does not update it; silver's is updated on every sample."""
    v = Venue()
    v("time", ts="2026-01-07T10:00:00Z")
    v("index", symbol=SILVER, price="78.50")
    v("index", symbol="BTCUSDT", price="90000.0")
    quoted(v, SILVER, "78.40", "78.60")
    v("place", account="mm", symbol="BTCUSDT", side="buy", type="limit", qty="0.010",
      price="89990.0")
    v("place", account="mm", symbol="BTCUSDT", side="sell", type="limit", qty="0.010",
      price="90010.0")
    v("time", ts="2026-01-07T10:01:00Z")
    prices = v.exchange.prices
    assert prices["BTCUSDT"].off_hours.state() == (None, 0)
    assert prices["BTCUSDT"].basis.samples == 30
    assert prices[SILVER].off_hours.value() == 7_850


def test_the_predicted_rate_is_the_fraction_rate_and_follows_the_premium() -> None:
    """The cached predicted rate equals the Fraction oracle of the premium average after
    every clock step, as the book (and so the premium) changes."""
    from engine.funding import funding_rate

    v = Venue()
    v("time", ts="2026-01-07T10:00:00Z")
    v("index", symbol=SILVER, price="78.50")
    quoted(v, SILVER, "78.40", "78.60")
    instrument = v.exchange.instruments[SILVER]
    for minute, price in enumerate(["78.70", "78.90", "79.50", "80.00"], start=1):
        v("place", account="mm", symbol=SILVER, side="buy", type="limit", qty="100",
          price=price)
        v("time", ts=f"2026-01-07T10:{minute:02d}:00Z")
        premium = v.exchange.prices[SILVER].premium
        expected = funding_rate(premium.value(), instrument.interest_rate,
                                instrument.funding_interval_ns, instrument.funding_cap)
        assert v.exchange.predicted_funding_rate(SILVER) == expected
    assert expected > 10_000, "the bids above the index raised the premium past the interest"
