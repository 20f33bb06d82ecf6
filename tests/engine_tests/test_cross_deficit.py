"""A cross loss realized beyond the wallet while another cross position holds a gain.

The margin test counts a cross position's gain at the mark, so an account can realize a loss
larger than its wallet and still pass: closing the loser at a price the margin balance
covers (by hand, or in the waterfall at a bankruptcy price solved for the whole account)
leaves the wallet below zero with the gain still open. DESIGN.md §3 leaves no wallet below
zero, so the gain pays: the most profitable cross position is closed for as many lots as the
deficit needs, into the book no worse than its bankruptcy price, the fund taking at the mark
what the book cannot fill (engine/liquidator.py ``_pay_deficit``). Found by the risk state
machine (seed 101 of ``seeded_run``: t3's wallet at -25.61 with an IDX long 36.51 in profit).

Setup: two index-marked symbols of the risk machine (MED: tick 0.01, lot 0.1, 4 % MM,
clearance 1 %; IDX: tick 0.001, lot 1, 3 % MM, clearance 1.5 %; taker fee 0.05 %). t deposits
100 and buys 10 MED @ 100.00 (fee 0.50) and 20 IDX @ 20.000 (fee 0.20): wallet 99.30. IDX
goes to 25.000 (a gain of 100.00, 5.00 a lot), MED down.
"""

from __future__ import annotations

from conftest import START, Venue, of

from engine.instrument import parse_instruments

MED, IDX = "MEDUSDT", "IDXUSDT"


def venue() -> Venue:
    from test_stateful_risk import INSTRUMENTS
    v = Venue(parse_instruments(INSTRUMENTS.replace('"median"', '"index"')))
    v("time", ts=START)
    v("index", symbol=MED, price="100.00")
    v("index", symbol=IDX, price="20.000")
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="t", amount="100")
    v("place", account="mm", symbol=MED, side="sell", type="limit", qty="10", price="100.00")
    v("place", account="t", symbol=MED, side="buy", type="market", qty="10")
    v("place", account="mm", symbol=IDX, side="sell", type="limit", qty="20", price="20.000")
    v("place", account="t", symbol=IDX, side="buy", type="market", qty="20")
    assert v.account("t")["wallet_balance"] == "99.30"
    v("index", symbol=IDX, price="25.000")
    return v


def close_med_at_90(v: Venue, idx_bid: str | None) -> list[dict]:
    """MED to 90.00, mm bids 10 there (and ``idx_bid`` IDX at 25.000), t sells its 10 MED."""
    v("index", symbol=MED, price="90.00")
    v("place", account="mm", symbol=MED, side="buy", type="limit", qty="10", price="90.00")
    if idx_bid is not None:
        v("place", account="mm", symbol=IDX, side="buy", type="limit", qty=idx_bid,
          price="25.000")
    return v("place", account="t", symbol=MED, side="sell", type="market", qty="10",
             reduce_only=True)


def sizes(v: Venue, account: str = "t") -> dict[str, str]:
    return {p["symbol"]: p["size"] for p in v.account(account)["positions"]}


def test_a_close_beyond_the_wallet_is_paid_by_closing_part_of_the_gain():
    """MED to 90.00; t sells its 10 MED into mm's 90.00 bid: -100.00 and a fee of 0.45 leave
    the wallet at -1.15. One IDX lot covers it: sold into mm's 25.000 bid (+5.00, clearance
    fee 0.375), the wallet ends at 3.475 and t keeps 19 IDX."""
    v = venue()
    events = close_med_at_90(v, idx_bid="5")
    assert [(x["symbol"], x["stage"], x["qty"], x["price"], x["fee"])
            for x in of(events, "liquidation")] == [(IDX, "reduce", "1", "25.000", "-0.375")]
    assert v.account("t")["wallet_balance"] == "3.475"
    assert sizes(v) == {IDX: "19"}


def test_with_no_bid_the_fund_takes_the_lots_at_the_mark():
    """As above with no IDX bid: the fund takes the one lot at the mark (25.000, no fee, no
    insurance money either way) and the wallet ends at -1.15 + 5.00 = 3.85."""
    v = venue()
    events = close_med_at_90(v, idx_bid=None)
    assert [(x["symbol"], x["stage"], x["qty"], x["price"], x["insurance_delta"])
            for x in of(events, "liquidation")] == [(IDX, "takeover", "1", "25.000", "0.00")]
    assert v.account("t")["wallet_balance"] == "3.85"
    assert sizes(v) == {IDX: "19"}
    [fund] = v.one("query", what="insurance")["funds"]
    assert (fund["balance"], fund["positions"]) == (
        "0.00", [{"symbol": IDX, "size": "1", "entry_price": "25.000"}])


def test_a_liquidation_priced_against_the_whole_account_leaves_the_gain_to_pay():
    """MED to 84.90: margin balance 48.30 under a maintenance margin of 48.96, t is
    liquidated. Its 10 MED sell into mm's 89.00 bid, above the bankruptcy price of 80.07 that
    the IDX gain allows: -110.00 and a clearance fee of 8.90 leave the wallet at -19.60 and
    the account passing the test (80.40 against 15.00), so the waterfall is over. The gain
    pays: 5 IDX (4.24 lots at 5.00 less 0.375 of fee) into mm's 25.000 bid, +25.00 and a fee
    of 1.875; the wallet ends at 3.525 and t keeps 15 IDX."""
    v = venue()
    v("place", account="mm", symbol=MED, side="buy", type="limit", qty="10", price="89.00")
    v("place", account="mm", symbol=IDX, side="buy", type="limit", qty="20", price="25.000")
    events = v("index", symbol=MED, price="84.90")
    assert [(x["symbol"], x["stage"], x["qty"], x["price"], x["bankruptcy_price"], x["fee"])
            for x in of(events, "liquidation")] == [
        (MED, "reduce", "10.0", "89.00", "80.07", "-8.90"),
        (IDX, "reduce", "5", "25.000", "20.980", "-1.875")]
    assert v.account("t")["wallet_balance"] == "3.525"
    assert sizes(v) == {IDX: "15"}
