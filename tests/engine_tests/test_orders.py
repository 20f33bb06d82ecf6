"""Order entry and matching, through the protocol, with the exact events asserted.

Setup everywhere: the ``venue`` fixture (tests/conftest.py) at 2026-01-07 10:00 UTC with
XAGUSDT index (= mark) 78.50, tick 0.01, lot 0.001, band 3 %, maker 0.02 %, taker 0.05 %.
Every command also checks all invariants (the Venue does it).
"""

from __future__ import annotations

import pytest
from conftest import START, Venue, names, of

from engine import digest
from engine.instrument import parse_instruments

SILVER = "XAGUSDT"
TS = START


def funded(venue: Venue, *accounts: str, amount: str = "100000") -> None:
    for account in accounts:
        venue("deposit", account=account, amount=amount)


def limit(venue: Venue, account: str, side: str, qty: str, price: str, **extra):
    return venue("place", account=account, symbol=SILVER, side=side, type="limit", qty=qty,
                  price=price, **extra)


def market(venue: Venue, account: str, side: str, qty: str, **extra):
    return venue("place", account=account, symbol=SILVER, side=side, type="market", qty=qty,
                 **extra)


def state_except_seq(venue: Venue) -> list:
    """The canonical state without the event counter: a rejection emits an event (and so
    moves ``seq``) but must change nothing else."""
    state = digest.canonical_state(venue.exchange)
    return state[:1] + state[2:]


@pytest.fixture
def v(venue: Venue) -> Venue:
    funded(venue, "alice", "bob", "carol")
    return venue


# -- limit orders and fills --------------------------------------------------------------------


def test_limit_order_rests_and_is_accepted_with_every_field(v: Venue) -> None:
    assert limit(v, "bob", "sell", "10", "78.60", client_id="b-1") == [{
        "seq": 7, "ts": TS, "event": "accepted", "order_id": 1, "account": "bob",
        "symbol": SILVER, "side": "sell", "type": "limit", "qty": "10.000", "tif": "gtc",
        "post_only": False, "reduce_only": False, "stp": "expire_maker", "price": "78.60",
        "client_id": "b-1"}]
    assert v.book(SILVER)["asks"] == [["78.60", "10.000"]]


def test_crossing_limit_trades_at_the_maker_price_with_exact_fees(v: Venue) -> None:
    """Setup: bob rests 10 @ 78.60; alice buys 4 at 78.70. Notional 314.40 USDT: taker fee
    0.05 % = 0.1572, maker fee 0.02 % = 0.06288."""
    limit(v, "bob", "sell", "10", "78.60")
    events = limit(v, "alice", "buy", "4", "78.70")
    assert names(events) == ["accepted", "trade", "fill", "fill"]
    trade, taker, maker = events[1:]
    assert trade == {"seq": 9, "ts": TS, "event": "trade", "trade_id": 1, "symbol": SILVER,
                     "price": "78.60", "qty": "4.000", "taker_side": "buy"}
    assert taker == {"seq": 10, "ts": TS, "event": "fill", "trade_id": 1, "order_id": 2,
                     "account": "alice", "symbol": SILVER, "side": "buy", "price": "78.60",
                     "qty": "4.000", "fee": "-0.1572", "liquidity": "taker",
                     "realized_pnl": "0.00", "position": "4.000"}
    assert maker["fee"] == "-0.06288" and maker["liquidity"] == "maker"
    assert maker["position"] == "-4.000" and maker["order_id"] == 1
    assert v.book(SILVER)["asks"] == [["78.60", "6.000"]], "the maker keeps its remainder"
    assert v.book(SILVER)["last"] == "78.60"


def test_price_time_priority_fills_better_prices_first_then_older_orders(v: Venue) -> None:
    limit(v, "bob", "sell", "1", "78.62")   # order 1: worse price
    limit(v, "bob", "sell", "1", "78.60")   # order 2: best price, older
    limit(v, "carol", "sell", "1", "78.60")  # order 3: best price, newer
    events = limit(v, "alice", "buy", "3", "78.62")
    makers = [f["order_id"] for f in of(events, "fill") if f["liquidity"] == "maker"]
    assert makers == [2, 3, 1]
    assert [t["price"] for t in of(events, "trade")] == ["78.60", "78.60", "78.62"]


def test_realized_pnl_on_reduce_and_flip(v: Venue) -> None:
    """alice buys 10 @ 78.60, then sells 15 @ 79.00: realizes 10 x 0.40 = 4.00 and is left
    short 5 with entry 79.00."""
    limit(v, "bob", "sell", "10", "78.60")
    market(v, "alice", "buy", "10")
    limit(v, "carol", "buy", "15", "79.00")
    events = market(v, "alice", "sell", "15")
    fill = [f for f in of(events, "fill") if f["account"] == "alice"][0]
    assert fill["realized_pnl"] == "4.00" and fill["position"] == "-5.000"
    position = v.account("alice")["positions"][0]
    assert position["size"] == "-5.000" and position["entry_price"] == "79.00"


# -- market orders -----------------------------------------------------------------------------


def test_market_order_sweeps_levels_then_cancels_the_rest_at_the_band(v: Venue) -> None:
    """Band around mark 78.50 at 3 %: a buy may trade up to 80.85. Liquidity at 80.90 is
    outside it, so the market order stops there and its rest is cancelled (reason band)."""
    limit(v, "bob", "sell", "2", "78.60")
    limit(v, "bob", "sell", "2", "80.85")
    limit(v, "carol", "sell", "2", "80.85")
    v("index", symbol=SILVER, price="79.00")
    limit(v, "carol", "sell", "2", "81.00")
    v("index", symbol=SILVER, price="78.50")
    events = market(v, "alice", "buy", "10")
    assert [(t["price"], t["qty"]) for t in of(events, "trade")] == [
        ("78.60", "2.000"), ("80.85", "2.000"), ("80.85", "2.000")]
    assert of(events, "cancelled") == [{
        "seq": events[-1]["seq"], "ts": TS, "event": "cancelled", "order_id": 5,
        "account": "alice", "symbol": SILVER, "reason": "band", "remaining": "4.000"}]
    assert v.book(SILVER)["asks"] == [["81.00", "2.000"]]


def test_market_order_with_an_empty_book_is_rejected_no_liquidity(v: Venue) -> None:
    assert market(v, "alice", "buy", "1") == [{
        "seq": 7, "ts": TS, "event": "rejected", "cmd": "place", "reason": "no_liquidity",
        "message": "no resting liquidity for a market order", "account": "alice",
        "symbol": SILVER}]


def test_market_order_with_only_out_of_band_liquidity_is_rejected(v: Venue) -> None:
    v("index", symbol=SILVER, price="85.00")
    limit(v, "bob", "sell", "1", "85.00")
    v("index", symbol=SILVER, price="78.50")
    [event] = market(v, "alice", "buy", "1")
    assert event["reason"] == "price_out_of_band"


def test_market_order_above_max_market_qty_is_rejected(v: Venue) -> None:
    [event] = market(v, "alice", "buy", "5000.001")
    assert event["reason"] == "above_max_qty"
    assert event["message"] == "qty 5000.001 is above the maximum 5000.000"


# -- time in force and flags -------------------------------------------------------------------


def test_ioc_fills_what_it_can_and_cancels_the_remainder(v: Venue) -> None:
    limit(v, "bob", "sell", "3", "78.60")
    events = limit(v, "alice", "buy", "5", "78.60", tif="ioc")
    assert names(events) == ["accepted", "trade", "fill", "fill", "cancelled"]
    assert events[-1]["reason"] == "ioc_remainder" and events[-1]["remaining"] == "2.000"
    assert v.book(SILVER)["bids"] == [], "an IOC order never rests"


def test_fok_that_cannot_fill_in_full_is_rejected_and_changes_nothing(v: Venue) -> None:
    limit(v, "bob", "sell", "3", "78.60")
    before = state_except_seq(v)
    [event] = limit(v, "alice", "buy", "5", "78.60", tif="fok")
    assert event["reason"] == "fok_not_filled"
    assert state_except_seq(v) == before


def test_fok_that_can_fill_fills_in_full(v: Venue) -> None:
    limit(v, "bob", "sell", "3", "78.60")
    limit(v, "carol", "sell", "3", "78.61")
    events = limit(v, "alice", "buy", "5", "78.61", tif="fok")
    assert sum(float(t["qty"]) for t in of(events, "trade")) == 5
    assert "cancelled" not in names(events)


def test_post_only_that_would_take_is_rejected(v: Venue) -> None:
    limit(v, "bob", "sell", "3", "78.60")
    [event] = limit(v, "alice", "buy", "1", "78.60", post_only=True)
    assert (event["reason"], event["message"]) == (
        "post_only_would_take", "post_only order would trade against the book")
    assert names(limit(v, "alice", "buy", "1", "78.59", post_only=True)) == ["accepted"]


def test_post_only_needs_a_gtc_limit(v: Venue) -> None:
    [event] = limit(v, "alice", "buy", "1", "78.00", post_only=True, tif="ioc")
    assert event["reason"] == "invalid_order"
    [event] = market(v, "alice", "buy", "1", post_only=True)
    assert event["reason"] == "invalid_order"


def test_client_ids_must_be_unique_among_open_orders(v: Venue) -> None:
    limit(v, "alice", "buy", "1", "78.00", client_id="x")
    [event] = limit(v, "alice", "buy", "1", "78.01", client_id="x")
    assert event["reason"] == "duplicate_client_id" and event["client_id"] == "x"
    v("cancel", account="alice", client_id="x")
    assert names(limit(v, "alice", "buy", "1", "78.01", client_id="x")) == ["accepted"]


# -- reduce-only -------------------------------------------------------------------------------


def open_long(v: Venue, account: str = "alice", qty: str = "10") -> None:
    limit(v, "bob", "sell", qty, "78.50")
    market(v, account, "buy", qty)


def test_reduce_only_without_a_position_is_rejected(v: Venue) -> None:
    [event] = limit(v, "alice", "sell", "1", "78.60", reduce_only=True)
    assert event["reason"] == "reduce_only_would_increase"


def test_reduce_only_on_the_side_of_the_position_is_rejected(v: Venue) -> None:
    open_long(v)
    [event] = limit(v, "alice", "buy", "1", "78.00", reduce_only=True)
    assert event["reason"] == "reduce_only_would_increase"


def test_reduce_only_larger_than_the_position_is_clamped_at_entry(v: Venue) -> None:
    open_long(v)
    events = limit(v, "alice", "sell", "15", "79.00", reduce_only=True)
    assert names(events) == ["accepted", "amended"]
    assert events[1]["qty"] == "10.000" and events[1]["reason"] == "reduce_only"


def test_resting_reduce_only_orders_shrink_then_cancel_as_the_position_shrinks(v: Venue) -> None:
    """alice is long 10 with reduce-only sells of 6 @ 79.00 and 4 @ 79.10 resting. Closing 7
    with a plain sell leaves a position of 3: the better-priced 6 shrinks to 3, the 4 goes."""
    open_long(v)
    limit(v, "alice", "sell", "6", "79.00", reduce_only=True)
    limit(v, "alice", "sell", "4", "79.10", reduce_only=True)
    limit(v, "carol", "buy", "7", "78.40")
    events = limit(v, "alice", "sell", "7", "78.40")
    assert [(e["event"], e.get("qty"), e["reason"]) for e in events
            if e["event"] in ("amended", "cancelled")] == [
        ("amended", "3.000", "reduce_only"), ("cancelled", None, "reduce_only")]
    assert v.book(SILVER)["asks"] == [["79.00", "3.000"]]


def test_reduce_only_never_flips_a_position_at_fill_time(v: Venue) -> None:
    open_long(v, qty="2")
    limit(v, "carol", "buy", "5", "78.40")
    events = market(v, "alice", "sell", "5", reduce_only=True)
    assert [f["position"] for f in of(events, "fill") if f["account"] == "alice"] == ["0.000"]


def test_reduce_only_is_exempt_from_min_notional(v: Venue) -> None:
    """A 0.05-ounce position (3.93 USDT) is below the 5 USDT minimum but can be closed."""
    open_long(v, qty="0.1")
    assert of(limit(v, "alice", "sell", "0.05", "79.00"), "rejected")[0]["reason"] == (
        "below_min_notional")
    assert names(limit(v, "alice", "sell", "0.05", "79.00", reduce_only=True)) == ["accepted"]


# -- conditional orders ------------------------------------------------------------------------


def stop(v: Venue, account: str, side: str, kind: str, trigger: str, qty: str = "1", **extra):
    return v("place", account=account, symbol=SILVER, side=side, type=kind, qty=qty,
             trigger_price=trigger, **extra)


def test_stop_market_fires_when_the_mark_reaches_the_trigger(v: Venue) -> None:
    limit(v, "bob", "sell", "1", "79.20")
    assert names(stop(v, "alice", "buy", "stop_market", "79.00")) == ["accepted"]
    assert names(v("index", symbol=SILVER, price="78.99")) == ["mark"]
    events = v("index", symbol=SILVER, price="79.00")
    assert names(events) == ["mark", "triggered", "trade", "fill", "fill"]
    assert events[1] == {"seq": events[1]["seq"], "ts": TS, "event": "triggered",
                         "order_id": 2, "account": "alice", "symbol": SILVER,
                         "trigger_price": "79.00", "trigger_by": "mark", "type": "market"}


@pytest.mark.parametrize(("side", "kind", "trigger", "quiet", "fires"), [
    ("sell", "stop_market", "78.00", "78.01", "78.00"),
    ("buy", "take_profit_market", "78.00", "78.01", "77.90"),
    ("sell", "take_profit_market", "79.00", "78.99", "79.10"),
])
def test_trigger_directions(v: Venue, side: str, kind: str, trigger: str, quiet: str,
                            fires: str) -> None:
    limit(v, "bob", "buy", "1", "77.50")
    limit(v, "bob", "sell", "1", "79.50")
    stop(v, "alice", side, kind, trigger)
    assert "triggered" not in names(v("index", symbol=SILVER, price=quiet))
    assert "triggered" in names(v("index", symbol=SILVER, price=fires))


def test_a_trigger_already_reached_is_rejected(v: Venue) -> None:
    [event] = stop(v, "alice", "buy", "stop_market", "78.50")
    assert event["reason"] == "would_immediately_trigger"


def test_stop_limit_becomes_a_resting_limit_order(v: Venue) -> None:
    stop(v, "alice", "buy", "stop_limit", "79.00", price="79.05")
    events = v("index", symbol=SILVER, price="79.00")
    assert names(events) == ["mark", "triggered"] and events[1]["type"] == "limit"
    assert v.book(SILVER)["bids"] == [["79.05", "1.000"]]


def test_trigger_by_last_fires_on_a_trade(v: Venue) -> None:
    limit(v, "bob", "sell", "1", "78.70")
    limit(v, "bob", "buy", "1", "78.30")
    stop(v, "alice", "sell", "stop_market", "78.60", trigger_by="last")
    limit(v, "carol", "sell", "1", "78.60")
    events = limit(v, "bob", "buy", "1", "78.60")  # trades at 78.60: last reaches the trigger
    assert names(events)[:5] == ["accepted", "trade", "fill", "fill", "triggered"]
    assert of(events, "trade")[-1]["price"] == "78.30", "the stop sold into the bid"


def test_reduce_only_stop_is_cancelled_if_the_position_is_gone_when_it_fires(v: Venue) -> None:
    open_long(v, qty="1")
    stop(v, "alice", "sell", "stop_market", "78.00", reduce_only=True)
    limit(v, "carol", "buy", "1", "78.40")
    market(v, "alice", "sell", "1")
    events = v("index", symbol=SILVER, price="77.90")
    assert names(events) == ["mark", "triggered", "cancelled"]
    assert events[-1]["reason"] == "reduce_only"


# -- amend and cancel --------------------------------------------------------------------------


def test_amend_size_down_keeps_queue_priority(v: Venue) -> None:
    limit(v, "bob", "sell", "5", "78.60")    # order 1
    limit(v, "carol", "sell", "5", "78.60")  # order 2
    events = v("amend", account="bob", order_id=1, qty="2")
    assert events == [{"seq": events[0]["seq"], "ts": TS, "event": "amended", "order_id": 1,
                       "account": "bob", "symbol": SILVER, "qty": "2.000",
                       "remaining": "2.000", "price": "78.60", "reason": "user"}]
    fills = of(market(v, "alice", "buy", "1"), "fill")
    assert fills[1]["order_id"] == 1, "bob is still first in the queue"


@pytest.mark.parametrize("change", [{"qty": "6"}, {"price": "78.61"}])
def test_amend_size_up_or_new_price_loses_queue_priority(v: Venue, change: dict) -> None:
    limit(v, "bob", "sell", "5", "78.60")
    limit(v, "carol", "sell", "5", "78.61")
    v("amend", account="bob", order_id=1, **change)
    if "price" not in change:
        v("amend", account="carol", order_id=2, price="78.60")
        fills = of(market(v, "alice", "buy", "1"), "fill")
        assert fills[1]["order_id"] == 1, "carol moved later than bob's size increase"
        return
    fills = of(market(v, "alice", "buy", "1"), "fill")
    assert fills[1]["order_id"] == 2, "carol was at 78.61 first"


def test_amend_to_a_crossing_price_trades(v: Venue) -> None:
    limit(v, "bob", "sell", "2", "78.60")
    limit(v, "alice", "buy", "3", "78.40")
    events = v("amend", account="alice", order_id=2, price="78.60")
    assert names(events) == ["amended", "trade", "fill", "fill"]
    assert v.book(SILVER)["bids"] == [["78.60", "1.000"]]


def test_a_refused_amend_changes_nothing(v: Venue) -> None:
    limit(v, "bob", "sell", "5", "78.60")
    limit(v, "carol", "sell", "5", "78.60")
    before = state_except_seq(v)
    [event] = v("amend", account="bob", order_id=1, price="70.00")
    assert event["reason"] == "price_out_of_band"
    assert state_except_seq(v) == before, "bob keeps his place in the queue"


def test_a_sell_may_rest_far_above_the_mark(v: Venue) -> None:
    """The band bounds buys above and sells below the mark (Binance PERCENT_PRICE) only."""
    limit(v, "bob", "sell", "5", "78.60")
    assert names(v("amend", account="bob", order_id=1, price="90.00")) == ["amended"]
    assert v.book(SILVER)["asks"] == [["90.00", "5.000"]]


def test_amend_must_stay_above_the_filled_quantity(v: Venue) -> None:
    limit(v, "bob", "sell", "5", "78.60")
    market(v, "alice", "buy", "3")
    [event] = v("amend", account="bob", order_id=1, qty="3")
    assert event["reason"] == "invalid_qty"
    assert names(v("amend", account="bob", order_id=1, qty="4")) == ["amended"]


def test_cancel_by_id_and_by_client_id(v: Venue) -> None:
    limit(v, "alice", "buy", "1", "78.00")
    limit(v, "alice", "buy", "1", "78.01", client_id="mine")
    assert v("cancel", account="alice", order_id=1)[0]["reason"] == "user"
    event = v("cancel", account="alice", client_id="mine")[0]
    assert (event["order_id"], event["client_id"], event["remaining"]) == (2, "mine", "1.000")
    [event] = v("cancel", account="alice", order_id=1)
    assert event["reason"] == "unknown_order"


def test_cancel_all_filters_by_symbol(v: Venue) -> None:
    limit(v, "alice", "buy", "1", "78.00")
    v("place", account="alice", symbol="XAUUSDT", side="buy", type="limit", qty="0.01",
      price="4400.00")
    stop(v, "alice", "buy", "stop_market", "80.00")
    events = v("cancel_all", account="alice", symbol=SILVER)
    assert [e["order_id"] for e in events] == [1, 3]
    assert [o["symbol"] for o in v.account("alice")["orders"]] == ["XAUUSDT"]


# -- self-trade prevention ---------------------------------------------------------------------


def test_stp_expire_maker_cancels_own_resting_order_and_keeps_matching(v: Venue) -> None:
    limit(v, "alice", "sell", "1", "78.60")
    limit(v, "bob", "sell", "1", "78.61")
    events = limit(v, "alice", "buy", "1", "78.61")
    assert names(events) == ["accepted", "cancelled", "trade", "fill", "fill"]
    assert events[1]["order_id"] == 1 and events[1]["reason"] == "stp"


def test_stp_expire_taker_cancels_the_incoming_order(v: Venue) -> None:
    limit(v, "alice", "sell", "1", "78.60")
    events = limit(v, "alice", "buy", "1", "78.61", stp="expire_taker")
    assert names(events) == ["accepted", "cancelled"]
    assert events[1]["order_id"] == 2 and events[1]["reason"] == "stp"
    assert v.book(SILVER)["asks"] == [["78.60", "1.000"]]


def test_stp_expire_both_cancels_both_and_no_trade_happens(v: Venue) -> None:
    limit(v, "alice", "sell", "1", "78.60")
    events = limit(v, "alice", "buy", "1", "78.61", stp="expire_both")
    assert [(e["order_id"], e["reason"]) for e in of(events, "cancelled")] == [
        (1, "stp"), (2, "stp")]
    assert v.book(SILVER)["last"] is None, "an STP cancel is not a trade"


# -- rejections at the edge --------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "reason", "message"), [
    ({"account": "nobody"}, "unknown_account", "no account 'nobody': deposit to open one"),
    ({"symbol": "ETHUSDT"}, "unknown_symbol",
     "no instrument 'ETHUSDT'; listed: BTCUSDT, XAUUSDT, XAGUSDT"),
    ({"price": "78.555"}, "invalid_price",
     "price 78.555 is not a multiple of 0.01 (tick size 0.01)"),
    ({"price": "NaN"}, "invalid_price", "price NaN is not a finite number (tick size 0.01)"),
    ({"price": "-1"}, "invalid_price", "price -1 must be positive"),
    ({"price": None}, "invalid_price", "a limit order needs a price"),
    ({"qty": "0.0005"}, "invalid_qty", "qty 0.0005 is not a multiple of 0.001 (lot size 0.001)"),
    ({"qty": "0"}, "invalid_qty", "qty 0 must be positive"),
    ({"qty": "Infinity"}, "invalid_qty", "qty Infinity is not a finite number (lot size 0.001)"),
    ({"qty": 1e30}, "above_max_qty", "qty 1000000000000000000000000000000 is too large"),
    ({"qty": "50000.001"}, "above_max_qty", "qty 50000.001 is above the maximum 50000.000"),
    ({"qty": "0.05"}, "below_min_notional", "notional below the minimum 5.00 USDT"),
    ({"qty": "0.001", "symbol": "BTCUSDT", "price": "90000.00"}, "below_min_notional",
     "notional below the minimum 100.00 USDT"),
    ({"price": "80.86"}, "price_out_of_band",
     "buy above the 80.85 limit of the price band around the mark"),
    ({"side": "sell", "price": "76.14"}, "price_out_of_band",
     "sell below the 76.15 limit of the price band around the mark"),
    ({"trigger_price": "80"}, "invalid_order", "a limit order takes no trigger_price"),
])
def test_place_rejections(v: Venue, fields: dict, reason: str, message: str) -> None:
    order = {"account": "alice", "symbol": SILVER, "side": "buy", "type": "limit",
             "qty": "1", "price": "78.50"}
    order.update(fields)
    before = state_except_seq(v)
    [event] = v("place", **{k: val for k, val in order.items() if val is not None})
    assert (event["event"], event["reason"], event["message"]) == ("rejected", reason, message)
    assert state_except_seq(v) == before


TEST_INSTRUMENT = """
[[instrument]]
symbol = "TESTUSDT"
tick_size = 0.01
lot_size = 0.001
min_qty = 0.010
max_qty = 100
max_market_qty = 10
min_notional = 0
maker_fee = 0.0002
taker_fee = 0.0005
clearance_fee = 0.01
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = 0.05
tiers = [{ notional_floor = 0, notional_cap = 1000000, max_leverage = 20, mmr = 0.02 }]
"""


def test_below_min_qty_is_rejected() -> None:
    """An instrument whose minimum is 10 lots refuses 5 lots of a valid step."""
    venue = Venue(parse_instruments(TEST_INSTRUMENT))
    venue("index", symbol="TESTUSDT", price="100.00")
    venue("deposit", account="alice", amount="1000")
    [event] = venue("place", account="alice", symbol="TESTUSDT", side="buy", type="limit",
                    qty="0.005", price="100.00")
    assert (event["reason"], event["message"]) == (
        "below_min_qty", "qty 0.005 is below the minimum 0.010")


def test_no_mark_price_yet_is_rejected() -> None:
    venue = Venue()
    venue("deposit", account="alice", amount="100")
    [event] = venue("place", account="alice", symbol=SILVER, side="buy", type="limit",
                    qty="1", price="78.00")
    assert event["reason"] == "no_mark_price"


def test_time_cannot_go_backwards(v: Venue) -> None:
    [event] = v("time", ts="2026-01-07T09:59:59Z")
    assert event["reason"] == "time_goes_backwards"
    [event] = v("time", ts="yesterday")
    assert event["reason"] == "invalid_timestamp"
    assert v("time", ts="2026-01-07T10:00:01Z") == []
    assert v.exchange.now == 1767780001 * 10**9
