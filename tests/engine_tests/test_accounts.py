"""Accounts through the protocol: deposits, withdrawals, leverage and the margin an order needs.

Setup: the ``venue`` fixture (XAGUSDT mark 78.50, default leverage 20x, tier 1 up to
250 000 USDT at 50x); bob is a well-funded counterparty.
"""

from __future__ import annotations

import pytest
from conftest import Venue, names

SILVER = "XAGUSDT"


@pytest.fixture
def v(venue: Venue) -> Venue:
    venue("deposit", account="alice", amount="100")
    venue("deposit", account="bob", amount="1000000")
    return venue


def buy(v: Venue, qty: str, price: str, account: str = "alice", **extra):
    return v("place", account=account, symbol=SILVER, side="buy", type="limit", qty=qty,
             price=price, **extra)


def sell(v: Venue, qty: str, price: str, account: str = "alice", **extra):
    return v("place", account=account, symbol=SILVER, side="sell", type="limit", qty=qty,
             price=price, **extra)


def go_long_20(v: Venue) -> None:
    """alice buys 20 oz at 78.50 from bob: IM 78.50, taker fee 0.785."""
    sell(v, "20", "78.50", account="bob")
    buy(v, "20", "78.50")


def test_an_order_the_account_cannot_afford_is_rejected_and_changes_nothing(v: Venue) -> None:
    """30 oz at 78.50 and 20x needs 117.75 USDT of margin and 1.1775 of taker fee; alice has
    100."""
    [event] = buy(v, "30", "78.50")
    assert (event["reason"], event["message"]) == (
        "insufficient_margin", "order needs 118.9275 USDT of margin and fees, 100.00 available")
    assert v.account("alice")["orders"] == []
    assert names(buy(v, "20", "78.50")) == ["accepted"]
    assert v.account("alice")["order_margin"] == "78.50"
    assert v.account("alice")["available_balance"] == "21.50"


def test_open_loss_of_an_order_priced_through_the_mark_is_charged(v: Venue) -> None:
    """25 oz bid at 79.00 with the mark at 78.50: IM 98.75 plus an open loss of 25 x 0.50 plus
    the taker fee 0.9875."""
    [event] = buy(v, "25", "79.00")
    assert event["message"] == "order needs 112.2375 USDT of margin and fees, 100.00 available"
    assert names(buy(v, "25", "78.50")) == ["accepted"], "at the mark it is affordable"


def test_closing_orders_need_no_margin_and_opening_parts_do(v: Venue) -> None:
    go_long_20(v)
    account = v.account("alice")
    assert (account["wallet_balance"], account["position_margin"],
            account["available_balance"]) == ("99.215", "78.50", "20.715")
    assert names(sell(v, "20", "79.00")) == ["accepted"], "closing the long is free"
    v("cancel_all", account="alice")
    [event] = sell(v, "40", "79.00")
    assert event["message"] == "order needs 80.58 USDT of margin and fees, 20.715 available"


def test_leverage_command_bounds(v: Venue) -> None:
    assert v("leverage", account="alice", symbol=SILVER, leverage=50) == [{
        "seq": 6, "ts": "2026-01-07T10:00:00Z", "event": "leverage", "account": "alice",
        "symbol": SILVER, "leverage": 50}]
    assert v("leverage", account="alice", symbol=SILVER, leverage=51)[0]["reason"] == (
        "leverage_too_high")
    assert v("leverage", account="alice", symbol=SILVER, leverage=0)[0]["reason"] == (
        "invalid_leverage")
    assert v("leverage", account="nobody", symbol=SILVER, leverage=5)[0]["reason"] == (
        "unknown_account")


def test_leverage_is_bounded_by_the_tier_of_the_resulting_notional(v: Venue) -> None:
    """At 50x only tier 1 (<= 250 000 USDT) is allowed: 3 200 oz at 78.50 is 251 200."""
    v("leverage", account="bob", symbol=SILVER, leverage=50)
    [event] = buy(v, "3200", "78.50", account="bob")
    assert event["reason"] == "leverage_too_high"
    assert names(buy(v, "3100", "78.50", account="bob")) == ["accepted"]
    [event] = buy(v, "100", "78.50", account="bob")
    assert event["reason"] == "leverage_too_high", "resting orders count toward the notional"
    v("leverage", account="bob", symbol=SILVER, leverage=25)
    assert names(buy(v, "100", "78.50", account="bob")) == ["accepted"]
    [event] = v("leverage", account="bob", symbol=SILVER, leverage=50)
    assert event["reason"] == "leverage_too_high", "raising leverage re-checks the tier"


def test_lowering_leverage_beyond_what_the_margin_covers_is_refused(v: Venue) -> None:
    v("leverage", account="alice", symbol=SILVER, leverage=50)
    sell(v, "50", "78.50", account="bob")
    buy(v, "50", "78.50")  # 3 925 USDT notional: 78.50 of IM at 50x
    [event] = v("leverage", account="alice", symbol=SILVER, leverage=20)
    assert event["reason"] == "insufficient_margin"
    assert v.account("alice")["positions"][0]["leverage"] == 50, "unchanged"


def test_max_withdraw_keeps_unrealized_profit_in_the_account(v: Venue) -> None:
    """Long 20 @ 78.50, mark 80.00: +30 unrealized, IM 80. Wallet 99.215 - 80 = 19.215."""
    go_long_20(v)
    v("index", symbol=SILVER, price="80.00")
    account = v.account("alice")
    assert (account["unrealized_pnl"], account["available_balance"],
            account["max_withdraw"]) == ("30.00", "49.215", "19.215")
    [event] = v("withdraw", account="alice", amount="19.22")
    assert (event["reason"], event["message"]) == (
        "insufficient_balance", "can withdraw at most 19.215 USDT")
    [event] = v("withdraw", account="alice", amount="19.215")
    assert (event["event"], event["amount"], event["wallet_balance"]) == (
        "balance", "-19.215", "80.00")


@pytest.mark.parametrize(("amount", "message"), [
    ("-5", "amount -5 must be positive"),
    ("0", "amount 0 must be positive"),
    ("0.000000001", "amount 0.000000001 is not a multiple of 0.00000001"),
    ("NaN", "amount NaN is not a finite number"),
])
def test_bad_amounts_are_rejected(v: Venue, amount: str, message: str) -> None:
    [event] = v("deposit", account="alice", amount=amount)
    assert (event["reason"], event["message"]) == ("invalid_amount", message)


def test_deposit_opens_an_account_and_withdraw_needs_one(v: Venue) -> None:
    assert v("withdraw", account="dave", amount="1")[0]["reason"] == "unknown_account"
    [event] = v("deposit", account="dave", amount="12.5")
    assert (event["event"], event["kind"], event["wallet_balance"]) == (
        "balance", "deposit", "12.50")


def test_fees_and_realized_pnl_land_in_the_wallet_exactly(v: Venue) -> None:
    """Buy 20 @ 78.50 (taker fee 0.785), sell 20 @ 79.00 as maker (fee 0.316):
    100 - 0.785 + 10.00 - 0.316 = 108.899."""
    go_long_20(v)
    sell(v, "20", "79.00")
    buy(v, "20", "79.00", account="bob")
    account = v.account("alice")
    assert (account["wallet_balance"], account["realized_pnl"], account["fees_paid"]) == (
        "108.899", "10.00", "1.101")
    assert account["positions"] == []
