"""A funding payment larger than what pays it: no wallet and no isolated margin goes below zero.

Funding is charged where the position's money is: the isolated margin, or the cross wallet
(PERP-MECHANICS.md §1.7). A position in profit can owe more than that cash while passing the
margin test, so the settlement cannot count on a liquidation to clear the debt. The rule:

- isolated: the margin pays what it can; the rest is the account's debt and comes out of its
  cross wallet (isolation caps what a liquidation takes, not what funding costs: Bybit-family
  venues charge funding to the available balance and the position margin alike);
- a cross wallet left below zero while cross positions hold gains is paid from those gains
  (the liquidator closes the lots the deficit needs);
- what the wallet of an account with no cross position cannot pay, the insurance fund pays,
  as it tops a bankrupt wallet up to zero (§4.1 step 5); the receivers are paid in full, and
  money stays conserved.

FUNUSDT pays up to 10 % a settlement (10 % cap), so one settlement can exceed a
10x position's margin; the maker's bid at 200 against index 150 is a 33 % premium: the rate
caps at 10 %.
"""

from __future__ import annotations

from conftest import START, Venue, of

from engine.instrument import parse_instruments
from engine.units import CASH_SCALE

SYMBOL = "FUNUSDT"
INSTRUMENTS = f"""
[[instrument]]
symbol = "{SYMBOL}"
tick_size = 0.01
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
funding_cap = 0.10
price_band = 0.5
mark_method = "index"
impact_margin_notional = 100
tiers = [{{ notional_floor = 0, notional_cap = 10000000, max_leverage = 10, mmr = 0.01 }}]
"""


def in_profit(mode: str, deposit: str, qty: str) -> Venue:
    """trader long ``qty`` at 100, 10x, in ``mode``; the index then 150 (a profit of 50 a lot)
    and the maker's bid at 200 that makes the 10 % rate. Settles at 16:00."""
    v = Venue(parse_instruments(INSTRUMENTS))
    v("time", ts=START)
    v("index", symbol=SYMBOL, price="100.00")
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="trader", amount=deposit)
    v("margin_mode", account="trader", symbol=SYMBOL, mode=mode)
    v("leverage", account="trader", symbol=SYMBOL, leverage=10)
    v("place", account="mm", symbol=SYMBOL, side="sell", type="limit", qty=qty, price="100.00")
    v("place", account="trader", symbol=SYMBOL, side="buy", type="market", qty=qty)
    v("index", symbol=SYMBOL, price="150.00")
    v("place", account="mm", symbol=SYMBOL, side="buy", type="limit", qty="20", price="200.00")
    return v


def cash(units: int) -> int:
    return units * CASH_SCALE


def test_an_isolated_margin_short_of_the_payment_is_topped_up_from_the_cross_wallet() -> None:
    """Isolated long 10 (margin 100, wallet 900), in profit 500: the 10 % payment is
    10 x 150 x 10 % = 150. The margin pays 100, the cross wallet the other 50; the position
    is not liquidated (equity 0 + 500 > MM 15) and nothing is negative."""
    v = in_profit("isolated", "1000", "10")
    exchange = v.exchange
    trader = exchange.accounts["trader"]
    assert trader.positions[SYMBOL].isolated_margin == cash(100)
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert events[0]["rate"] == "0.1"
    assert [(p["account"], p["amount"]) for p in of(events, "funding_payment")] == [
        ("mm", "150.00"), ("trader", "-150.00")]
    assert of(events, "liquidation") == []
    position = trader.positions[SYMBOL]
    assert (position.qty, position.isolated_margin, trader.wallet) == (10, 0, cash(850))
    assert trader.funding_pnl == -cash(150)
    assert exchange.insurance.wallet == 0 and exchange.backstop == 0  # the account paid it all


def test_what_neither_the_margin_nor_the_wallet_can_pay_the_fund_pays() -> None:
    """Isolated long 10 with all the rest withdrawn: margin 100, wallet 0. Of the 150 owed the
    margin pays 100 and the fund the other 50 (from the venue's backstop, the fund being
    empty); the maker still receives 150."""
    v = in_profit("isolated", "100", "10")
    exchange = v.exchange
    trader = exchange.accounts["trader"]
    assert trader.wallet == 0
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert [(p["account"], p["amount"]) for p in of(events, "funding_payment")] == [
        ("mm", "150.00"), ("trader", "-150.00")]
    position = trader.positions[SYMBOL]
    assert (position.qty, position.isolated_margin, trader.wallet) == (10, 0, 0)
    assert trader.liquidation_transfers == cash(50)
    assert exchange.insurance.wallet == 0 and exchange.backstop == -cash(50)


def test_a_cross_wallet_short_of_the_payment_is_paid_by_the_position_s_gain() -> None:
    """Cross long 2 at 100 on a deposit of 20 (all of it initial margin), in profit 100 at
    150: the payment 2 x 150 x 10 % = 30 is more than the wallet, which goes to -10. The
    account passes the margin test (-10 + 100 > MM 3), so its gain pays, not the fund: one
    lot is sold into mm's 200 bid (+100, clearance fee 2.00) and the wallet ends at 88 with
    one lot kept (engine/liquidator.py ``_pay_deficit``)."""
    v = in_profit("cross", "20", "2")
    exchange = v.exchange
    trader = exchange.accounts["trader"]
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert [(p["account"], p["amount"]) for p in of(events, "funding_payment")] == [
        ("mm", "30.00"), ("trader", "-30.00")]
    assert [(x["stage"], x["qty"], x["price"], x["fee"])
            for x in of(events, "liquidation")] == [("reduce", "1", "200.00", "-2.00")]
    assert (trader.positions[SYMBOL].qty, trader.wallet) == (1, cash(88))
    assert trader.liquidation_transfers == -cash(2)  # its clearance fee; the fund paid nothing
    assert exchange.backstop == 0


def test_a_cross_wallet_that_can_pay_pays_it_all() -> None:
    """The same with a deposit of 50: the wallet pays 30 and keeps 20; the fund is not
    touched (the ordinary path)."""
    v = in_profit("cross", "50", "2")
    trader = v.exchange.accounts["trader"]
    v("time", ts="2026-01-07T16:00:00Z")
    assert (trader.wallet, trader.liquidation_transfers, v.exchange.backstop) == (cash(20), 0, 0)


def test_a_cross_part_the_isolated_debt_leaves_failing_is_liquidated() -> None:
    """The cross wallet that pays an isolated position's funding is checked at once: trader
    holds the isolated FUNUSDT long of the first test (owing 50 more than its margin) and a
    cross long 10 CRSUSDT at 100 with 100 in the wallet; at 95 the cross part has 50 over a
    maintenance margin of 9.50. Paying the 50 leaves it 0: it is liquidated at the
    settlement, the isolated position is not, and no wallet or margin is negative."""
    both = INSTRUMENTS + INSTRUMENTS.replace(SYMBOL, "CRSUSDT")
    v = Venue(parse_instruments(both))
    v("time", ts=START)
    for symbol in (SYMBOL, "CRSUSDT"):
        v("index", symbol=symbol, price="100.00")
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="trader", amount="200")
    v("margin_mode", account="trader", symbol=SYMBOL, mode="isolated")
    for symbol in (SYMBOL, "CRSUSDT"):
        v("leverage", account="trader", symbol=symbol, leverage=10)
        v("place", account="mm", symbol=symbol, side="sell", type="limit", qty="10",
          price="100.00")
        v("place", account="trader", symbol=symbol, side="buy", type="market", qty="10")
    v("index", symbol=SYMBOL, price="150.00")
    v("place", account="mm", symbol=SYMBOL, side="buy", type="limit", qty="20", price="200.00")
    v("place", account="mm", symbol="CRSUSDT", side="buy", type="limit", qty="10",
      price="94.00")
    v("index", symbol="CRSUSDT", price="95.00")
    trader = v.exchange.accounts["trader"]
    assert trader.wallet == cash(100) and trader.positions[SYMBOL].isolated_margin == cash(100)
    events = v("time", ts="2026-01-07T16:00:00Z")
    assert {(p["account"], p["symbol"]) for p in of(events, "liquidation")} == {
        ("trader", "CRSUSDT")}
    funding = [i for i, ev in enumerate(events)
               if ev["event"] == "funding_payment" and ev["symbol"] == SYMBOL]
    assert events.index(of(events, "liquidation")[0]) > max(funding)
    assert trader.positions["CRSUSDT"].qty == 0 and trader.positions[SYMBOL].qty == 10
    assert trader.wallet >= 0 and trader.positions[SYMBOL].isolated_margin == 0
