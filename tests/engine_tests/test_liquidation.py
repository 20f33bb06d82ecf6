"""The liquidation waterfall through the protocol, with the numbers worked out by hand.

Silver (XAGUSDT): tick 0.01, lot 0.001 oz, tier 1 up to 250 000 USDT (50x, MMR 1 %), tier 2 up
to 1 000 000 (25x, MMR 2 %, cum 2 500), clearance fee 1 %, taker fee 0.05 %, maker 0.02 %.
Mark = index here, so each ``index`` command is a mark move.
"""

from __future__ import annotations

import pytest
from conftest import Venue, names, of

from engine.instrument import parse_instruments

SILVER = "XAGUSDT"


def order(v: Venue, account: str, side: str, qty: str, price: str | None = None, **extra):
    kind = {"type": "limit", "price": price} if price else {"type": "market"}
    return v("place", account=account, symbol=SILVER, side=side, qty=qty, **kind, **extra)


def position(v: Venue, account: str, symbol: str = SILVER) -> dict | None:
    found = [p for p in v.account(account)["positions"] if p["symbol"] == symbol]
    return found[0] if found else None


def fund(v: Venue) -> dict:
    return v.one("query", what="insurance")["funds"][0]


# -- a cross account, reduced one tier -----------------------------------------------------------


@pytest.fixture
def tier_two_long(venue: Venue) -> Venue:
    """trader: 13 000 USDT, 25x, long 3 000 oz at 100.00 = 300 000 USDT (tier 2). Taker fee
    150, so the wallet is 12 850; maintenance at mark M is 3 000 x M x 2 % - 2 500."""
    v = venue
    v("index", symbol=SILVER, price="100.00")
    v("deposit", account="mm", amount="10000000")
    v("deposit", account="trader", amount="13000")
    v("leverage", account="trader", symbol=SILVER, leverage=25)
    order(v, "mm", "sell", "3000", "100.00")
    order(v, "trader", "buy", "3000")
    assert v.account("trader")["wallet_balance"] == "12850.00"
    return v


def test_the_margin_test_is_exact_at_the_boundary(tier_two_long: Venue) -> None:
    """12 850 + 3 000 (M - 100) <= 60 M - 2 500  <=>  M <= 96.8197...: 96.82 is safe, and
    it is also the price shown (a long's liquidation price rounds up, against the trader)."""
    v = tier_two_long
    assert position(v, "trader")["liquidation_price"] == "96.82"
    assert "liquidation" not in names(v("index", symbol=SILVER, price="96.82"))


def test_cross_liquidation_reduces_one_tier_then_stops(tier_two_long: Venue) -> None:
    """At 96.81 the account fails the test. One IOC sell takes the notional back under the
    250 000 cap of tier 1: keep floor(250 000 / 96.81) = 2 582.377 oz, sell 417.623 into the
    96.50 bid (bankruptcy price (300 000 - 12 850) / 3 000 = 95.7166.. -> 95.72). Clearance
    fee 1 % x 417.623 x 96.50 = 403.006195. Then equity 2 747.53.. > MM 2 499.99..: it stops
    (the position, 249 999.92 USDT at mark, is in tier 1)."""
    v = tier_two_long
    order(v, "mm", "buy", "500", "96.50")
    order(v, "trader", "sell", "1", "99.00")  # resting order: cancelled first
    events = v("index", symbol=SILVER, price="96.81")
    assert names(events) == ["mark", "cancelled", "trade", "fill", "fill", "liquidation"]
    assert events[1]["reason"] == "liquidation"
    assert of(events, "trade")[0]["qty"] == "417.623"
    [liquidation] = of(events, "liquidation")
    assert {k: liquidation[k] for k in ("account", "side", "qty", "price", "bankruptcy_price",
                                        "fee", "insurance_delta", "stage")} == {
        "account": "trader", "side": "sell", "qty": "417.623", "price": "96.50",
        "bankruptcy_price": "95.72", "fee": "-403.006195", "insurance_delta": "403.006195",
        "stage": "reduce"}
    assert position(v, "trader")["size"] == "2582.377"
    assert v.account("trader")["maintenance_margin"] == "2499.9991737", "1 % of tier 1"
    assert fund(v)["balance"] == "403.006195"


def test_a_stop_on_the_last_price_fires_on_the_liquidation_fill_in_the_same_step(
        tier_two_long: Venue) -> None:
    """The liquidation of the test above sells into the 96.50 bid: that moves the last price
    from 100.00 to 96.50, which reaches another account's stop on the last price (96.60).
    It fires in the same step, after the liquidation, and sells into what is left of the
    bid."""
    v = tier_two_long
    order(v, "mm", "buy", "500", "96.50")
    v("deposit", account="stopper", amount="10000")
    assert names(v("place", account="stopper", symbol=SILVER, side="sell", type="stop_market",
                   qty="1", trigger_price="96.60", trigger_by="last")) == ["accepted"]
    events = v("index", symbol=SILVER, price="96.81")
    assert names(events) == ["mark", "trade", "fill", "fill", "liquidation", "triggered",
                             "trade", "fill", "fill"]
    assert of(events, "triggered")[0]["account"] == "stopper"
    assert position(v, "stopper")["size"] == "-1.000"


# -- an isolated position, alone ----------------------------------------------------------------


def test_isolated_position_is_liquidated_and_the_rest_of_the_account_is_not(venue: Venue):
    """trader holds a cross BTC long and a resting BTC bid, and an isolated silver long of
    100 oz at 78.50 at 10x (margin 785). Silver at 71.36 fails the position's test
    (785 + 100 (M - 78.50) <= M  <=>  M <= 71.3636..); its bankruptcy price is 70.65."""
    v = venue
    v("deposit", account="mm", amount="10000000")
    v("deposit", account="trader", amount="10000")
    v("place", account="mm", symbol="BTCUSDT", side="sell", type="limit", qty="0.1",
      price="90000.00")
    v("place", account="trader", symbol="BTCUSDT", side="buy", type="market", qty="0.1")
    v("place", account="trader", symbol="BTCUSDT", side="buy", type="limit", qty="0.1",
      price="89000.00")
    v("margin_mode", account="trader", symbol=SILVER, mode="isolated")
    v("leverage", account="trader", symbol=SILVER, leverage=10)
    order(v, "mm", "sell", "100", "78.50")
    order(v, "trader", "buy", "100")
    silver = position(v, "trader")
    assert (silver["margin_mode"], silver["isolated_margin"], silver["bankruptcy_price"],
            silver["liquidation_price"]) == ("isolated", "785.00", "70.65", "71.37")
    btc_before = position(v, "trader", "BTCUSDT")
    order(v, "mm", "buy", "1000", "71.00")
    assert "liquidation" not in names(v("index", symbol=SILVER, price="71.37"))
    events = v("index", symbol=SILVER, price="71.36")
    [liquidation] = of(events, "liquidation")
    # sold at 71.00: 785 - 750 = 35 left, so the 71.00 clearance fee is capped at 35
    assert (liquidation["qty"], liquidation["price"], liquidation["fee"]) == (
        "100.000", "71.00", "-35.00")
    assert position(v, "trader") is None
    assert position(v, "trader", "BTCUSDT") == btc_before, "the cross position is untouched"
    assert [o["price"] for o in v.account("trader")["orders"]] == ["89000.00"]


# -- the insurance fund takes over; ADL when it cannot ------------------------------------------


@pytest.fixture
def degen(venue: Venue) -> Venue:
    """degen: 1 000 USDT at 50x, long 400 oz at 115.00 (46 000 USDT) bought from two shorts:
    mm (300 oz, 1 000 000 USDT) and hedge (100 oz, 1 000 USDT: far more leveraged).
    Wallet after the 23.00 fee: 977; bankruptcy price 115 - 977 / 400 = 112.5575 -> 112.56."""
    v = venue
    v("index", symbol=SILVER, price="115.00")
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="hedge", amount="1000")
    v("deposit", account="degen", amount="1000")
    v("leverage", account="degen", symbol=SILVER, leverage=50)
    order(v, "mm", "sell", "300", "115.00")
    order(v, "hedge", "sell", "100", "115.00")
    order(v, "degen", "buy", "400")
    assert position(v, "degen")["bankruptcy_price"] == "112.56"
    return v


def test_with_no_bids_the_fund_takes_the_position_over_at_the_bankruptcy_price(degen: Venue):
    """At 113.50 degen fails the test (977 - 600 = 377 <= MM 454); the book has no bids, so
    the fund takes the 400 oz over at 112.56. degen's 977 + 400 x (112.56 - 115) = 1.00 left
    goes to the fund, which now marks its long at +376.00."""
    v = degen
    events = v("index", symbol=SILVER, price="113.50")
    [liquidation] = of(events, "liquidation")
    assert {k: liquidation[k] for k in ("side", "qty", "price", "bankruptcy_price", "fee",
                                        "insurance_delta", "stage")} == {
        "side": "sell", "qty": "400.000", "price": "112.56", "bankruptcy_price": "112.56",
        "fee": "0.00", "insurance_delta": "1.00", "stage": "takeover"}
    assert v.account("degen")["wallet_balance"] == "0.00"
    assert fund(v)["balance"] == "1.00"
    assert fund(v)["positions"] == [{"symbol": SILVER, "size": "400.000",
                                      "entry_price": "112.56"}]


def test_when_the_fund_cannot_pay_adl_closes_the_most_leveraged_winner_first(degen: Venue):
    """Silver gaps to 110.00, below degen's bankruptcy price. Taking the long at 112.56 would
    cost the empty fund 400 x 2.56 = 1 024, so both shorts are deleveraged at 112.56: hedge
    first (same profit, far higher effective leverage), then mm."""
    v = degen
    events = v("index", symbol=SILVER, price="110.00")
    adl = [(a["account"], a["side"], a["qty"], a["price"], a["counterparty"])
           for a in of(events, "adl")]
    assert adl == [
        ("hedge", "buy", "100.000", "112.56", "degen"),
        ("degen", "sell", "100.000", "112.56", "hedge"),
        ("mm", "buy", "300.000", "112.56", "degen"),
        ("degen", "sell", "300.000", "112.56", "mm"),
    ]
    assert of(events, "adl")[0]["realized_pnl"] == "244.00", "100 x (115 - 112.56)"
    assert of(events, "liquidation")[-1]["stage"] == "adl"
    for account in ("degen", "hedge", "mm"):
        assert position(v, account) is None
    assert v.account("degen")["wallet_balance"] == "0.00"
    assert fund(v)["balance"] == "1.00", "the 1.00 degen had left"


# -- worked examples E11 and E13 through the account answer -------------------------------------

ONE_TIER_BTC = """
[[instrument]]
symbol = "BTCUSDT"
tick_size = 0.10
lot_size = 0.001
min_qty = 0.001
max_qty = 1000
max_market_qty = 120
min_notional = 5
maker_fee = 0
taker_fee = 0
clearance_fee = 0.0125
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = 0.05
tiers = [{ notional_floor = 0, notional_cap = 10000000, max_leverage = 50, mmr = 0.005 }]
"""


def isolated_btc(entry: str, qty: str, side: str, leverage: int) -> Venue:
    v = Venue(parse_instruments(ONE_TIER_BTC))
    v("index", symbol="BTCUSDT", price=entry)
    v("deposit", account="mm", amount="100000000")
    v("deposit", account="trader", amount="100000")
    v("margin_mode", account="trader", symbol="BTCUSDT", mode="isolated")
    v("leverage", account="trader", symbol="BTCUSDT", leverage=leverage)
    v("place", account="mm", symbol="BTCUSDT", side="sell" if side == "buy" else "buy",
      type="limit", qty=qty, price=entry)
    v("place", account="trader", symbol="BTCUSDT", side=side, type="market", qty=qty)
    return v


def test_e11_isolated_liquidation_price():
    """E11: long 1 BTC at 20 000, 50x, MMR 0.5 %: IM 400, MM 100 at entry. Bybit's 19 700
    holds MM at its entry value; this venue (like Binance) takes MM at the liquidation price:
    400 + (P - 20 000) = 0.005 P  ->  P = 19 600 / 0.995 = 19 698.49.. shown 19 698.50 (up for
    a long), and the margin test agrees to the tick. The short mirror: 20 400 / 1.005 =
    20 298.50.. shown 20 298.50 (down); Bybit's value is 20 300."""
    v = isolated_btc("20000.00", "1", "buy", 50)
    long = position(v, "trader", "BTCUSDT")
    assert (long["isolated_margin"], long["maintenance_margin"]) == ("400.00", "100.00")
    assert (long["liquidation_price"], long["bankruptcy_price"]) == ("19698.50", "19600.00")
    assert "liquidation" not in names(v("index", symbol="BTCUSDT", price="19698.50"))
    v("place", account="mm", symbol="BTCUSDT", side="buy", type="limit", qty="1",
      price="19650.00")
    assert "liquidation" in names(v("index", symbol="BTCUSDT", price="19698.40"))
    short = position(isolated_btc("20000.00", "1", "sell", 50), "trader", "BTCUSDT")
    assert (short["liquidation_price"], short["bankruptcy_price"]) == ("20298.50", "20400.00")


def test_e13_bankruptcy_price_and_its_rounding_against_the_trader():
    """E13's linear analogue: long 1 BTC at 50 000, 10x -> bankruptcy 45 000. Off the tick it
    rounds up for a long and down for a short: 3 BTC at 50 000.10, 7x has margin
    ceil(150 000.30 / 7) = 21 428.61428572, bankruptcy 50 000.10 - 7 142.8714.. = 42 857.2285..
    -> 42 857.30; the short 50 000.10 + 7 142.8714.. = 57 142.9714.. -> 57 142.90."""
    assert position(isolated_btc("50000.00", "1", "buy", 10), "trader",
                    "BTCUSDT")["bankruptcy_price"] == "45000.00"
    assert position(isolated_btc("50000.10", "3", "buy", 7), "trader",
                    "BTCUSDT")["bankruptcy_price"] == "42857.30"
    assert position(isolated_btc("50000.10", "3", "sell", 7), "trader",
                    "BTCUSDT")["bankruptcy_price"] == "57142.90"


# -- margin modes ----------------------------------------------------------------------------------


def test_margin_mode_cannot_change_with_a_position_or_orders(venue: Venue) -> None:
    v = venue
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="trader", amount="1000")
    order(v, "trader", "buy", "1", "78.00")
    [event] = v("margin_mode", account="trader", symbol=SILVER, mode="isolated")
    assert event["reason"] == "position_open"
    v("cancel_all", account="trader")
    assert v("margin_mode", account="trader", symbol=SILVER, mode="isolated")[0] == {
        "seq": event["seq"] + 2, "ts": event["ts"], "event": "margin_mode",
        "account": "trader", "symbol": SILVER, "mode": "isolated"}


def test_isolated_margin_can_be_added_and_removed_within_limits(venue: Venue) -> None:
    """Isolated long 10 oz at 78.50, 10x: margin 78.50. Adding 100 moves it from the wallet;
    at most margin + uPnL - IM can be taken back."""
    v = venue
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="trader", amount="1000")
    v("margin_mode", account="trader", symbol=SILVER, mode="isolated")
    v("leverage", account="trader", symbol=SILVER, leverage=10)
    assert v("isolated_margin", account="trader", symbol=SILVER, amount="10")[0]["reason"] == (
        "no_isolated_position")
    order(v, "mm", "sell", "10", "78.50")
    order(v, "trader", "buy", "10")
    [event] = v("isolated_margin", account="trader", symbol=SILVER, amount="100")
    assert (event["kind"], event["amount"], event["symbol"]) == ("isolated_margin", "100.00",
                                                                 SILVER)
    assert position(v, "trader")["isolated_margin"] == "178.50"
    [event] = v("isolated_margin", account="trader", symbol=SILVER, amount="-100.01")
    assert (event["reason"], event["message"]) == (
        "insufficient_margin", "at most 100.00 USDT can be removed")
    assert v("isolated_margin", account="trader", symbol=SILVER,
             amount="-100")[0]["amount"] == "-100.00"
