"""Funding settled by the engine on the clock: exact payments, zero-sum, and liquidation.

The rate comes from the premium of the book against the index (PERP-MECHANICS.md §1.3-§1.6);
with no book deep enough for the impact notional the premium is 0 and the rate is the
interest rate, 0.01 % per 8 h.
"""

from __future__ import annotations

from importlib import resources

from conftest import START, Venue, names, of

from engine.instrument import parse_instruments

BTC = "BTCUSDT"


def long_and_short(v: Venue, price: str, qty: str) -> None:
    v("index", symbol=BTC, price=price)
    v("deposit", account="long", amount="100000")
    v("deposit", account="short", amount="100000")
    v("place", account="short", symbol=BTC, side="sell", type="limit", qty=qty, price=price)
    v("place", account="long", symbol=BTC, side="buy", type="market", qty=qty)


def test_e22_longs_pay_shorts_exactly_at_the_settlement_mark() -> None:
    """E22: F = +0.01 %, mark 60 000: long 0.5 BTC pays 3.00, short receives 3.00."""
    v = Venue()
    v("time", ts=START)
    long_and_short(v, "60000.00", "0.5")
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert names(events)[:3] == ["funding", "funding_payment", "funding_payment"]
    assert {k: events[0][k] for k in ("ts", "symbol", "rate", "mark")} == {
        "ts": "2026-01-07T16:00:00Z", "symbol": BTC, "rate": "0.0001", "mark": "60000.00"}
    assert [(p["account"], p["position"], p["amount"]) for p in of(events, "funding_payment")] == [
        ("long", "0.500", "-3.00"), ("short", "-0.500", "3.00")]
    assert v.exchange.rounding == 0


def test_e22_with_a_negative_rate_shorts_pay_longs() -> None:
    """The default file with a negative interest rate: F = -0.01 %, the signs flip."""
    text = resources.files("engine").joinpath("instruments.toml").read_text("utf-8")
    v = Venue(parse_instruments(text.replace("interest_rate = 0.0001", "interest_rate = -0.0001",
                                             1)))
    v("time", ts=START)
    long_and_short(v, "60000.00", "0.5")
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert events[0]["rate"] == "-0.0001"
    assert [p["amount"] for p in of(events, "funding_payment")] == ["3.00", "-3.00"]


def test_only_positions_open_at_the_boundary_pay() -> None:
    """A position closed before 16:00 pays nothing; one opened after it waits for 00:00."""
    v = Venue()
    v("time", ts=START)
    long_and_short(v, "60000.00", "0.5")
    v("place", account="long", symbol=BTC, side="sell", type="limit", qty="0.5",
      price="60000.00")
    v("place", account="short", symbol=BTC, side="buy", type="market", qty="0.5")
    assert of(v("time", ts="2026-01-07T16:00:00Z"), "funding_payment") == []


def test_rounding_residue_goes_to_the_rounding_account() -> None:
    """0.101 oz of silver at 78.51 and 0.01 %: 0.000792951 USDT, between two 1e-8 units. The
    payer pays the ceiling (0.00079296), the receiver gets the floor (0.00079295), and the
    unit between them goes to the rounding account: the sum is zero to the last unit."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol="XAGUSDT", price="78.51")
    v("deposit", account="long", amount="1000")
    v("deposit", account="short", amount="1000")
    v("place", account="short", symbol="XAGUSDT", side="sell", type="limit", qty="0.101",
      price="78.51")
    v("place", account="long", symbol="XAGUSDT", side="buy", type="market", qty="0.101")
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert [p["amount"] for p in of(events, "funding_payment")] == ["-0.00079296",
                                                                    "0.00079295"]
    assert v.exchange.rounding == 1


def test_a_funding_payment_can_liquidate() -> None:
    """trader: 1 000 USDT, 100x, long 1 BTC at 90 000 (fee 45), in tier 2 (MM 0.5 % - 50).
    mm's 94 000 bid puts the impact bid 5 % over the index: the rate caps at 0.30 %. At mark
    89 500 the account is safe (455 > MM 397.50) until 16:00 takes 268.50 of funding:
    186.50 <= 397.50, and the liquidation sells the long into that bid."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol=BTC, price="90000.00")
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="trader", amount="1000")
    v("leverage", account="trader", symbol=BTC, leverage=100)
    v("place", account="mm", symbol=BTC, side="sell", type="limit", qty="1", price="90000.00")
    v("place", account="trader", symbol=BTC, side="buy", type="market", qty="1")
    v("place", account="mm", symbol=BTC, side="buy", type="limit", qty="1", price="94000.00")
    assert "liquidation" not in names(v("index", symbol=BTC, price="89500.00"))
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert names(events)[:3] == ["funding", "funding_payment", "funding_payment"]
    assert events[0]["rate"] == "0.003"
    assert of(events, "funding_payment")[1] == {
        "seq": events[2]["seq"], "ts": "2026-01-07T16:00:00Z", "event": "funding_payment",
        "account": "trader", "symbol": BTC, "position": "1.000", "amount": "-268.50"}
    [liquidation] = of(events, "liquidation")
    assert (liquidation["account"], liquidation["price"], liquidation["stage"]) == (
        "trader", "94000.00", "reduce")
    assert events.index(liquidation) > events.index(of(events, "funding_payment")[-1])


def test_the_mark_event_shows_the_predicted_rate_and_next_funding() -> None:
    v = Venue()
    v("time", ts=START)
    [mark] = v("index", symbol=BTC, price="90000.00")
    assert (mark["funding_rate"], mark["next_funding"]) == ("0.0001", "2026-01-07T16:00:00Z")
