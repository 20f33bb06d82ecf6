"""Edge cases of the risk engine, each once a bug found in review, with its reproduction.

Setup (``btc``): 2026-01-07 10:00 UTC, BTCUSDT index 90 000 (tier 1 to 50 000 USDT at 0.4 %,
tier 2 to 250 000 at 0.5 % - 50, clearance fee 1.25 %, taker fee 0.05 %).
"""

from __future__ import annotations

import pytest
from conftest import START, Venue, names, of

from engine import digest
from engine import events as e
from engine.protocol import decode_command

BTC = "BTCUSDT"


@pytest.fixture
def btc() -> Venue:
    v = Venue()
    v("time", ts=START)
    v("index", symbol=BTC, price="90000")
    return v


def long_one_btc(v: Venue, account: str = "a", deposit: str = "4600",
                 mode: str = "cross") -> None:
    """``account`` buys 1 BTC at 90 000 from b (taker fee 45) in ``mode`` margin."""
    v("deposit", account=account, amount=deposit)
    v("deposit", account="b", amount="1000000")
    assert names(v("margin_mode", account=account, symbol=BTC, mode=mode)) == ["margin_mode"]
    v("place", account="b", symbol=BTC, side="sell", type="limit", qty="1", price="90000")
    v("place", account=account, symbol=BTC, side="buy", type="market", qty="1")


def fund(v: Venue) -> dict:
    return v.one("query", what="insurance")


def test_an_isolated_position_keeps_its_margin_until_its_liquidation_is_over(btc: Venue):
    """a: isolated 20x long 1 BTC (margin 4 500, wallet 55). At 85 870 it fails the test;
    0.418 sells into c's 85 800 bid (clearance fee 340.74 to the fund) and the rest is taken
    over at the bankruptcy price. Before the fix each partial fill released margin to the
    wallet while the position was insolvent, and the fund got nothing."""
    v = btc
    v("deposit", account="c", amount="1000000")
    long_one_btc(v, mode="isolated")
    v("place", account="c", symbol=BTC, side="buy", type="limit", qty="0.418", price="85800")
    assert v.account("a")["wallet_balance"] == "55.00"
    events = v("index", symbol=BTC, price="85870")
    assert [(e["stage"], e["qty"], e["fee"]) for e in of(events, "liquidation")] == [
        ("reduce", "0.418", "-340.74"), ("takeover", "0.582", "0.00")]
    assert v.account("a")["wallet_balance"] == "55.00", "no margin leaked to the wallet"
    assert fund(v)["funds"][0]["balance"] == "340.74"


def test_a_cross_liquidation_closes_the_losing_position_first(btc: Venue):
    """a: long 1 BTC and short 4.5 XAU (flat in PnL). BTC crashes to 10 000. The BTC long is
    the loss and is closed first (ADL at its bankruptcy price, XAU held at its mark); the XAU
    short goes to the fund at about its mark. c, long the XAU, is not touched. Before the fix
    c's healthy XAU long was deleveraged at 0.01."""
    v = btc
    v("index", symbol="XAUUSDT", price="4450")
    v("deposit", account="c", amount="1000000")
    long_one_btc(v, deposit="10000")
    v("place", account="c", symbol="XAUUSDT", side="buy", type="limit", qty="4.5",
      price="4450")
    v("place", account="a", symbol="XAUUSDT", side="sell", type="market", qty="4.5")
    events = v("index", symbol=BTC, price="10000")
    assert [(e["account"], e["symbol"]) for e in of(events, "adl")] == [
        ("b", BTC), ("a", BTC)]
    assert [p["size"] for p in v.account("c")["positions"]] == ["4.500"]
    [xau] = [e for e in of(events, "liquidation") if e["symbol"] == "XAUUSDT"]
    assert (xau["stage"], xau["price"]) == ("takeover", "4450.01")


def test_a_reducing_taker_stops_at_the_bankruptcy_price(btc: Venue):
    """a is long 1 BTC with 4 555 of wallet: bankrupt at 85 445. Selling into an 81 700 bid
    would leave a owing 3 745; the order is cancelled at the bankruptcy price instead."""
    v = btc
    long_one_btc(v)
    v("index", symbol=BTC, price="86000")
    v("place", account="b", symbol=BTC, side="buy", type="limit", qty="1", price="81700")
    events = v("place", account="a", symbol=BTC, side="sell", type="market", qty="1")
    assert names(events) == ["accepted", "cancelled"]
    assert events[1]["reason"] == "bankruptcy_price"
    assert v.account("a")["wallet_balance"] == "4555.00"


def test_an_opening_order_reserves_its_fee(btc: Venue):
    """4 500 USDT is exactly the 20x margin of 1 BTC, but not the 45 of taker fee as well."""
    v = btc
    v("deposit", account="a", amount="4500")
    [event] = v("place", account="a", symbol=BTC, side="sell", type="limit", qty="1",
                price="90000")
    assert event["message"] == "order needs 4545.00 USDT of margin and fees, 4500.00 available"


def test_a_fill_far_from_the_mark_is_liquidated_at_once_and_the_wallet_stays_whole(btc: Venue):
    """a rests an isolated sell at 90 000; the mark runs to 100 000 and b lifts it: a short
    born 10 000 under water on 4 500 of margin. The risk check after the fill liquidates it
    (no asks: the fund cannot afford it, so b is deleveraged) and a's cross wallet keeps the
    1 455 it had beside the position."""
    v = btc
    v("deposit", account="a", amount="6000")
    v("deposit", account="b", amount="100000")
    v("margin_mode", account="a", symbol=BTC, mode="isolated")
    v("place", account="a", symbol=BTC, side="sell", type="limit", qty="1", price="90000")
    v("index", symbol=BTC, price="100000")
    events = v("place", account="b", symbol=BTC, side="buy", type="limit", qty="1",
               price="90000")
    assert "liquidation" in names(events)
    account = v.account("a")
    assert account["positions"] == [] and account["wallet_balance"] == "1482.00"


def test_the_fund_never_goes_below_zero(btc: Venue):
    """The fund takes a long over and then pays funding on it with an empty wallet: the venue
    backstops it instead of letting the fund owe."""
    v = btc
    long_one_btc(v)
    v("index", symbol=BTC, price="85600")
    assert fund(v)["funds"][0]["positions"] != []
    v("time", ts="2026-01-07T16:00:00Z")
    answer = fund(v)
    assert answer["funds"][0]["balance"] == "0.00"
    assert answer["venue_backstop"] != "0.00"


def test_a_refused_leverage_change_changes_nothing(btc: Venue):
    v = btc
    v("deposit", account="a", amount="500")
    v("deposit", account="b", amount="500000")
    v("place", account="b", symbol=BTC, side="sell", type="limit", qty="0.1", price="90000")
    v("place", account="a", symbol=BTC, side="buy", type="market", qty="0.1")
    before = digest.canonical_state(v.exchange)
    [event] = v("leverage", account="a", symbol=BTC, leverage=1)
    assert event["reason"] == "insufficient_margin"
    after = digest.canonical_state(v.exchange)
    assert after[:1] + after[2:] == before[:1] + before[2:], "only seq moved"


def test_an_open_isolated_position_cannot_lower_its_leverage(btc: Venue):
    v = btc
    long_one_btc(v, mode="isolated")
    [event] = v("leverage", account="a", symbol=BTC, leverage=2)
    assert event["reason"] == "position_open"
    assert names(v("leverage", account="a", symbol=BTC, leverage=25)) == ["leverage"]


def test_absurd_numbers_are_refused_not_crashed_on(btc: Venue):
    # JSON numbers may carry an exponent (a decimal string may not): they arrive as Decimal
    for amount in ("1e1000000", "-1e1000000", "1e-1000000"):
        command = decode_command(b'{"cmd":"deposit","account":"a","amount":%s}' % amount.encode())
        [event] = btc.exchange.execute(command)
        assert isinstance(event, e.Rejected) and event.reason == "invalid_amount"
    command = decode_command(b'{"cmd":"index","symbol":"BTCUSDT","price":1e999999}')
    [event] = btc.exchange.execute(command)
    assert isinstance(event, e.Rejected) and event.reason == "invalid_price"
    btc.exchange.check_invariants()


def test_the_state_hash_handles_numbers_beyond_64_bits():
    """A huge premium for hours makes the funding accumulator exceed 2**64."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol="XAUUSDT", price="4450")
    v("deposit", account="mm", amount="1000000")
    v("place", account="mm", symbol="XAUUSDT", side="buy", type="limit", qty="10",
      price="4440")
    v("place", account="mm", symbol="XAUUSDT", side="sell", type="limit", qty="10",
      price="4460")
    v("index", symbol="XAUUSDT", price="400")
    v("time", ts="2026-01-07T15:59:59Z")
    assert len(v.exchange.state_hash()) == 32


def test_settlements_of_several_symbols_come_in_time_order(btc: Venue):
    v = btc
    v("index", symbol="XAUUSDT", price="4450")
    for account in ("a", "b"):
        v("deposit", account=account, amount="1000000")
    for symbol, price, qty in ((BTC, "90000", "0.1"), ("XAUUSDT", "4450", "1")):
        v("place", account="a", symbol=symbol, side="sell", type="limit", qty=qty, price=price)
        v("place", account="b", symbol=symbol, side="buy", type="market", qty=qty)
    events = v("time", ts="2026-01-08T10:00:00Z")
    assert [(e["ts"][11:16], e["symbol"]) for e in of(events, "funding")] == [
        ("16:00", BTC), ("16:00", "XAUUSDT"), ("00:00", BTC), ("00:00", "XAUUSDT"),
        ("08:00", BTC), ("08:00", "XAUUSDT")]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)


def test_a_jump_of_years_with_nothing_held_is_one_settlement():
    v = Venue()
    v("index", symbol=BTC, price="90000")
    events = v("time", ts="2262-01-01T00:00:00Z")
    assert names(events).count("funding") == 1


def _idx_venue() -> Venue:
    from test_stateful_risk import INDEX, INSTRUMENTS

    from engine.instrument import parse_instruments
    v = Venue(parse_instruments(INSTRUMENTS))
    v("time", ts=START)
    v("index", symbol=INDEX, price="20.000")
    return v


def test_a_resting_reduce_only_close_beyond_bankruptcy_keeps_its_loss_from_withdrawal():
    """t shorts 10 IDX at 20 with 100 USDT and rests a reduce-only buy 10 @ 23.999 (a loss
    of 39.99 against the mark if it fills). Before the fix t could withdraw 89.9, and the
    maker's sell into the close left t flat at -30.04. The loss of a resting close is now
    held back from the withdrawable amount."""
    v = _idx_venue()
    v("deposit", account="mm", amount="1000000")
    v("deposit", account="t", amount="100")
    v("place", account="mm", symbol="IDXUSDT", side="buy", type="limit", qty="10",
      price="20.000")
    v("place", account="t", symbol="IDXUSDT", side="sell", type="market", qty="10")
    v("place", account="t", symbol="IDXUSDT", side="buy", type="limit", qty="10",
      price="23.999", reduce_only=True)
    assert names(v("withdraw", account="t", amount="89.9")) == ["rejected"]
    allowed = v.account("t")["max_withdraw"]
    v("withdraw", account="t", amount=allowed)
    v("place", account="mm", symbol="IDXUSDT", side="sell", type="limit", qty="10",
      price="20.000")
    assert not str(v.account("t")["wallet_balance"]).startswith("-")


def test_a_resting_plain_close_beyond_bankruptcy_keeps_its_loss_from_withdrawal(venue: Venue):
    """BTC at 73 744: t longs 0.005, rests a sell 0.005 @ 70 880.20 (below the mark), goes
    50x and withdraws 99 991.46365525. Before the fix the maker's bid at 74 348.20 filled
    the close and left t's wallet at -3.35."""
    v = venue
    v("index", symbol=BTC, price="73744.00")
    v("deposit", account="m", amount="10000000")
    v("deposit", account="t", amount="100000")
    v("place", account="m", symbol=BTC, side="sell", type="limit", qty="2.021",
      price="73207.30")
    v("place", account="t", symbol=BTC, side="buy", type="market", qty="0.005")
    v("place", account="t", symbol=BTC, side="sell", type="limit", qty="0.005",
      price="70880.20")
    v("leverage", account="t", symbol=BTC, leverage=50)
    assert names(v("withdraw", account="t", amount="99991.46365525")) == ["rejected"]
    v("withdraw", account="t", amount=v.account("t")["max_withdraw"])
    v("place", account="m", symbol=BTC, side="buy", type="limit", qty="0.040",
      price="74348.20")
    assert not str(v.account("t")["wallet_balance"]).startswith("-")


def test_the_invariant_catches_any_negative_wallet(btc: Venue):
    """check_invariants() fires on a negative wallet even with a position open (it used to
    look at flat accounts only)."""
    long_one_btc(btc)
    account = btc.exchange.accounts["a"]
    gone = account.wallet + 1
    account.wallet -= gone
    account.withdrawn += gone  # keep its ledger and the money sums right: only the sign is off
    btc.exchange.withdrawals += gone
    with pytest.raises(AssertionError, match="a: negative wallet"):
        btc.exchange.check_invariants()


def test_a_cross_close_beyond_bankruptcy_with_an_isolated_position_beside_it(venue: Venue):
    """t holds an isolated BTC long (its own margin) and a cross XAU long 1 @ 4 450, and rests
    50x and a reduce-only sell 1 XAU @ 4 320 (130 below the mark). Before the fix t could withdraw
    the cross wallet down to about the XAU margin, and the maker's bid filling the close left
    the cross wallet negative while the isolated position still held its margin."""
    v = venue
    v("deposit", account="m", amount="10000000")
    v("deposit", account="t", amount="2000")
    v("margin_mode", account="t", symbol=BTC, mode="isolated")
    v("place", account="m", symbol=BTC, side="sell", type="limit", qty="0.01", price="90000")
    v("place", account="t", symbol=BTC, side="buy", type="market", qty="0.01")
    v("place", account="m", symbol="XAUUSDT", side="sell", type="limit", qty="1",
      price="4450")
    v("place", account="t", symbol="XAUUSDT", side="buy", type="market", qty="1")
    v("leverage", account="t", symbol="XAUUSDT", leverage=50)
    v("place", account="t", symbol="XAUUSDT", side="sell", type="limit", qty="1",
      price="4320", reduce_only=True)
    v("withdraw", account="t", amount=v.account("t")["max_withdraw"])
    v("place", account="m", symbol="XAUUSDT", side="buy", type="limit", qty="1",
      price="4450")
    t = v.exchange.accounts["t"]
    assert t.position_qty("XAUUSDT") == 0 and t.position_qty(BTC) > 0
    assert t.wallet >= 0 and t.positions[BTC].isolated_margin > 0
