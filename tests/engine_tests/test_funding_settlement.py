"""Funding settled by the engine on the clock: exact payments, zero-sum, and liquidation.

The rate comes from the premium of the book against the index (PERP-MECHANICS.md §1.3-§1.6);
with no book deep enough for the impact notional the premium is 0 and the rate is the
interest rate, 0.01 % per 8 h.
"""

from __future__ import annotations

from fractions import Fraction
from importlib import resources

from conftest import START, Venue, names, of

from engine.funding import PREMIUM_SCALE
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


E16_INSTRUMENT = """
[[instrument]]
symbol = "E16USDT"
tick_size = 0.10
lot_size = 1
min_qty = 1
max_qty = 100000
max_market_qty = 100000
min_notional = 0
maker_fee = 0
taker_fee = 0
clearance_fee = 0.01
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.01
price_band = 0.05
impact_margin_notional = 5000
tiers = [{ notional_floor = 0, notional_cap = 10000000, max_leverage = 20, mmr = 0.01 }]
"""


def test_e16_premium_from_a_real_book_and_the_rate_it_gives() -> None:
    """E16 through the engine: bids 99.90 x 10, 99.80 x 30, 99.50 x 100, asks from 100.30,
    impact notional 5 000, index 99.50. Impact bid 99.7593743734.., P = 0.2606777622 %.
    After an hour of identical samples the average premium is P, so the predicted 8-hour rate
    is P + clamp(0.01 % - P, +-0.05 %) = P - 0.05 % = 0.2106777622 % -> 0.00210678."""
    v = Venue(parse_instruments(E16_INSTRUMENT))
    v("time", ts=START)
    v("index", symbol="E16USDT", price="99.50")
    v("deposit", account="mm", amount="1000000")
    for qty, price in (("10", "99.90"), ("30", "99.80"), ("100", "99.50")):
        v("place", account="mm", symbol="E16USDT", side="buy", type="limit", qty=qty,
          price=price)
    v("place", account="mm", symbol="E16USDT", side="sell", type="limit", qty="1000",
      price="100.30")
    premium = v.exchange.pricing._premium("E16USDT")  # an integer over PREMIUM_SCALE
    assert premium == round(Fraction(13, 4987) * PREMIUM_SCALE), \
        "impact bid 99.759374.. over index 99.50, exactly (then quantised to 1e-12)"
    assert f"{premium / PREMIUM_SCALE * 100:.10f}" == "0.2606777622"
    v("time", ts="2026-01-07T11:00:00Z")
    assert v.book("E16USDT")["funding_rate"] == "0.00210678"


def test_settlement_pays_the_holders_in_account_id_order() -> None:
    """Holders come from the margin screen (not a scan of every account): a closed position
    and an account with no position are skipped, the rest pay in account-id order, and the
    payments are the same as a scan of every account would give."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol=BTC, price="60000.00")
    for account in ("zed", "amy", "max", "idle"):
        v("deposit", account=account, amount="100000")
    v("place", account="zed", symbol=BTC, side="sell", type="limit", qty="0.6", price="60000.00")
    v("place", account="amy", symbol=BTC, side="buy", type="market", qty="0.4")
    v("place", account="max", symbol=BTC, side="buy", type="market", qty="0.2")
    v("place", account="max", symbol=BTC, side="sell", type="limit", qty="0.1",
      price="60000.00")
    v("place", account="amy", symbol=BTC, side="buy", type="market", qty="0.1")  # amy 0.5
    v("place", account="max", symbol=BTC, side="sell", type="limit", qty="0.1",
      price="60000.00")
    v("place", account="zed", symbol=BTC, side="buy", type="market", qty="0.1")  # max closed
    exchange = v.exchange
    scan = sorted(a.id for a in exchange.accounts.values() if a.position_qty(BTC))
    assert scan == ["amy", "zed"]
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert [(p["account"], p["position"], p["amount"]) for p in of(events, "funding_payment")] == [
        ("amy", "0.500", "-3.00"), ("zed", "-0.500", "3.00")]
