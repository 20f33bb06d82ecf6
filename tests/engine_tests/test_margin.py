"""engine/account.py and engine/margin.py: positions, order margin and the account summary.

PERP-MECHANICS.md §1.8 (initial margin), §1.9 (maintenance), §1.10 (balances, margin ratio,
max withdraw), §1.11 (order margin with opening quantities and open loss) and §1.12 (realized
PnL). Every expected value is an exact integer in engine units: prices in ticks, quantities in
lots, money in 1e-8 USDT. On BTCUSDT one tick is 0.10 USDT and one lot 0.001 BTC, so one tick
on one lot is K = 10 000 cash units; 1 lot at 90 000.0 (900 000 ticks) is worth 90 USDT.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.account import Account, Position
from engine.book import Order, OrderBook
from engine.enums import OrderType, Side
from engine.instrument import default_instruments
from engine.margin import (
    MarginSummary,
    order_initial_margin,
    position_initial_margin,
    resting_shapes,
    summarize,
)
from engine.units import CASH_SCALE, RATE_SCALE

USDT = CASH_SCALE
CENT = USDT // 100
INSTRUMENTS = default_instruments()
BTC = INSTRUMENTS["BTCUSDT"]
XAU = INSTRUMENTS["XAUUSDT"]
K = BTC.cash_per_tick_lot
MARK = 900_000
"""90 000.0 USDT in BTC ticks."""
ABOVE = 910_000
"""91 000.0 USDT."""
BELOW = 880_000
"""88 000.0 USDT."""
LEV = 20


def test_btc_units_used_below() -> None:
    """The constants of this module: K = 10 000, 1 lot at MARK = 90 USDT."""
    assert K == 10_000, "0.10 USDT x 0.001 BTC in 1e-8 USDT"
    assert MARK * K == 90 * USDT, "one lot at 90 000.0"


# -- Position.apply_fill ---------------------------------------------------------------------------


def test_open_and_increase_long() -> None:
    """Opening sets the cost to the fill's notional; increasing adds the new fill's notional.

    Setup: k = 1, buy 2 @ 100 then 1 @ 130.
    """
    position = Position()
    assert position.apply_fill(2, 100, 1) == 0, "opening realizes nothing"
    assert (position.qty, position.cost) == (2, 200), "open: 2 lots costing 200"
    assert position.apply_fill(1, 130, 1) == 0, "increasing realizes nothing"
    assert (position.qty, position.cost) == (3, 330), "cost adds: 200 + 130"
    assert position.signed_cost == 330, "a long's signed cost is +cost"


def test_open_and_increase_short() -> None:
    """A short's cost is what its lots brought in, kept positive; signed_cost is negative.

    Setup: k = 1, sell 2 @ 100 then 1 @ 130.
    """
    position = Position()
    assert position.apply_fill(-2, 100, 1) == 0, "opening realizes nothing"
    assert position.apply_fill(-1, 130, 1) == 0, "increasing realizes nothing"
    assert (position.qty, position.cost) == (-3, 330), "short 3, cost 330"
    assert position.signed_cost == -330, "a short's signed cost is -cost"


def test_partial_reduce_long_takes_the_floor_share_of_cost() -> None:
    """Reducing removes floor(cost x closed / size) and realizes exit value minus that share.

    Setup: k = 1, long 3 lots costing 32 (1 @ 10, 2 @ 11): the share of 1 lot is 32 // 3 = 10.
    """
    position = Position()
    position.apply_fill(1, 10, 1)
    position.apply_fill(2, 11, 1)
    realized = position.apply_fill(-1, 12, 1)
    assert realized == 12 - 10, "exit value 12 minus cost share 10"
    assert (position.qty, position.cost) == (2, 22), "2 lots left, cost 32 - 10"
    realized = position.apply_fill(-2, 12, 1)
    assert realized == 24 - 22, "the last lots carry the rest of the cost"
    assert (position.qty, position.cost) == (0, 0), "flat: no cost left"


def test_partial_reduce_short() -> None:
    """A short realizes the cost share minus what buying back costs.

    Setup: k = 1, short 3 lots that brought 32 (1 @ 10, 2 @ 11); buy back 1 @ 9, then 2 @ 12.
    """
    position = Position()
    position.apply_fill(-1, 10, 1)
    position.apply_fill(-2, 11, 1)
    assert position.apply_fill(1, 9, 1) == 10 - 9, "cost share 32 // 3 = 10, paid 9"
    assert (position.qty, position.cost) == (-2, 22), "short 2, cost 22"
    assert position.apply_fill(2, 12, 1) == 22 - 24, "a loss: bought back above entry"
    assert (position.qty, position.cost) == (0, 0), "flat"


def test_reduce_long_in_btc_units() -> None:
    """Long 2 lots @ 90 000.0, sell 1 @ 91 000.0: realized 1 000 USDT x 0.001 = 1 USDT.

    Setup: BTCUSDT, K = 10 000.
    """
    position = Position()
    position.apply_fill(2, MARK, K)
    assert position.cost == 180 * USDT, "2 lots at 90 USDT"
    assert position.apply_fill(-1, ABOVE, K) == 1 * USDT, "(91 - 90) USDT on one lot"
    assert (position.qty, position.cost) == (1, 90 * USDT), "one lot left at its entry"


@pytest.mark.parametrize("side", [1, -1], ids=["long", "short"])
def test_full_close_leaves_no_cost(side: int) -> None:
    """Closing the whole position sets qty and cost to 0 and realizes the full difference.

    Setup: k = 1, 3 lots opened @ 100 (1) and @ 101 (2), closed @ 105 in one fill.
    """
    position = Position()
    position.apply_fill(side * 1, 100, 1)
    position.apply_fill(side * 2, 101, 1)
    realized = position.apply_fill(-side * 3, 105, 1)
    assert realized == side * (315 - 302), "3 x 105 against cost 302"
    assert (position.qty, position.cost, position.signed_cost) == (0, 0, 0), "flat, no cost"


def test_flip_long_to_short() -> None:
    """A fill larger than the position closes it (realizing) and opens the rest at the price.

    Setup: k = 1, long 2 @ 100, sell 5 @ 110.
    """
    position = Position()
    position.apply_fill(2, 100, 1)
    realized = position.apply_fill(-5, 110, 1)
    assert realized == 2 * (110 - 100), "realized only on the 2 closed lots"
    assert (position.qty, position.cost) == (-3, 330), "short 3 opened at 110"
    assert position.signed_cost == -330, "short signed cost"


def test_flip_short_to_long() -> None:
    """Short 2 @ 100, buy 5 @ 110: lose 20 on the closed part, long 3 at 110.

    Setup: k = 1.
    """
    position = Position()
    position.apply_fill(-2, 100, 1)
    assert position.apply_fill(5, 110, 1) == -20, "bought back 10 above entry on 2 lots"
    assert (position.qty, position.cost) == (3, 330), "long 3 opened at 110"


def test_flip_with_uneven_cost_drops_the_old_cost() -> None:
    """After a flip the cost is exactly the new lots at the fill price, whatever came before.

    Setup: k = 1, long 3 costing 32, sell 4 @ 12.
    """
    position = Position()
    position.apply_fill(1, 10, 1)
    position.apply_fill(2, 11, 1)
    assert position.apply_fill(-4, 12, 1) == 36 - 32, "close 3 lots: 36 against 32"
    assert (position.qty, position.cost) == (-1, 12), "short 1 at 12"


FILLS = st.lists(
    st.tuples(st.integers(min_value=-50, max_value=50).filter(bool),
              st.integers(min_value=1, max_value=10_000)),
    min_size=1, max_size=40)


@given(fills=FILLS, cash_per_tick_lot=st.sampled_from([1, 7, 1_000, 10_000]))
def test_realized_minus_signed_cost_is_the_cash_flow(fills: list[tuple[int, int]],
                                                     cash_per_tick_lot: int) -> None:
    """Over any fills, realized - signed_cost equals the sum of the trades' cash flows.

    A sell brings +price x qty x k, a buy costs -price x qty x k: nothing is created or lost
    by the floor division of a partial close.
    """
    position = Position()
    realized = cash = qty = 0
    for signed_qty, price in fills:
        realized += position.apply_fill(signed_qty, price, cash_per_tick_lot)
        cash -= signed_qty * price * cash_per_tick_lot
        qty += signed_qty
        assert position.qty == qty, "size is the sum of the fills"
        assert position.cost >= 0, f"cost {position.cost} is never negative"
        assert (position.cost == 0) == (qty == 0), "cost is 0 exactly when flat"
        assert realized - position.signed_cost == cash, (
            f"realized {realized} - signed cost {position.signed_cost} != cash flow {cash}")
        low = min(p for _, p in fills) * abs(qty) * cash_per_tick_lot
        high = max(p for _, p in fills) * abs(qty) * cash_per_tick_lot
        assert low <= position.cost <= high, "average entry within the fill prices"


# -- unrealized PnL --------------------------------------------------------------------------------


def test_unrealized_pnl_long() -> None:
    """Long 2 lots @ 90 000.0: +2 USDT at 91 000.0, -4 USDT at 88 000.0, 0 at entry."""
    position = Position()
    position.apply_fill(2, MARK, K)
    assert position.unrealized_pnl(ABOVE, K) == 2 * USDT, "mark above entry: profit"
    assert position.unrealized_pnl(BELOW, K) == -4 * USDT, "mark below entry: loss"
    assert position.unrealized_pnl(MARK, K) == 0, "at entry"


def test_unrealized_pnl_short() -> None:
    """Short 2 lots @ 90 000.0: -2 USDT at 91 000.0, +4 USDT at 88 000.0."""
    position = Position()
    position.apply_fill(-2, MARK, K)
    assert position.unrealized_pnl(ABOVE, K) == -2 * USDT, "mark above entry: loss"
    assert position.unrealized_pnl(BELOW, K) == 4 * USDT, "mark below entry: profit"
    assert position.unrealized_pnl(MARK, K) == 0, "at entry"


def test_unrealized_pnl_is_exact_with_an_uneven_entry() -> None:
    """The entry price is never rounded: long 3 costing 32 (k = 1) at mark 11 is up 1."""
    position = Position()
    position.apply_fill(1, 10, 1)
    position.apply_fill(2, 11, 1)
    assert position.unrealized_pnl(11, 1) == 33 - 32, "3 x 11 - 32"
    assert Position().unrealized_pnl(11, 1) == 0, "no position, no PnL"


# -- position initial margin -----------------------------------------------------------------------


def test_position_initial_margin() -> None:
    """|q| x mark / leverage: 2 lots at 90 000.0, 20x -> 9 USDT, long or short."""
    assert position_initial_margin(BTC, 2, MARK, LEV) == 9 * USDT, "180 / 20"
    assert position_initial_margin(BTC, -2, MARK, LEV) == 9 * USDT, "the sign does not matter"
    assert position_initial_margin(BTC, 0, MARK, LEV) == 0, "no position, no margin"


def test_position_initial_margin_rounds_up() -> None:
    """Margin is charged, so it rounds up: 1 lot at 90 000.1, 7x = 9 000 010 000 / 7."""
    notional = 900_001 * K
    assert notional == 9_000_010_000, "90.0001 USDT"
    assert position_initial_margin(BTC, 1, 900_001, 7) == 1_285_715_715, (
        "1 285 715 714.28... rounds up")
    assert position_initial_margin(BTC, -1, 900_001, 7) == 1_285_715_715, "short rounds up too"
    assert position_initial_margin(BTC, 1, 900_001, 1) == notional, "1x is the full notional"


# -- order initial margin --------------------------------------------------------------------------


def _oim(orders: list[tuple[bool, int, int]], position: int = 0, mark: int = MARK,
         leverage: int = LEV) -> int:
    return order_initial_margin(BTC, orders, position, mark, leverage)


def test_order_margin_without_position() -> None:
    """Buy 2 lots @ 90 000.0 at 20x reserves 180 / 20 = 9 USDT; no orders reserve nothing."""
    assert _oim([]) == 0, "no orders"
    assert _oim([(True, MARK, 2)]) == 9 * USDT, "buy 2 lots"
    assert _oim([(False, MARK, 2)]) == 9 * USDT, "sell 2 lots"


def test_sell_against_long_needs_no_margin_up_to_the_position() -> None:
    """Setup: long 3 lots. Selling up to 3 lots only closes; beyond that, the rest opens."""
    assert _oim([(False, MARK, 2)], position=3) == 0, "sell 2 closes"
    assert _oim([(False, MARK, 3)], position=3) == 0, "sell 3 closes exactly"
    assert _oim([(False, MARK, 5)], position=3) == 9 * USDT, "sell 5: 2 lots open short"
    assert _oim([(False, MARK, 2), (False, MARK, 2)], position=3) == 9 * USDT // 2, (
        "two sells of 2: 3 close, 1 opens")


def test_buy_beyond_closing_a_short_needs_margin_on_the_opening_part() -> None:
    """Setup: short 3 lots. Buy 5 @ 90 000.0: 3 close, 2 open -> 9 USDT."""
    assert _oim([(True, MARK, 3)], position=-3) == 0, "buy 3 closes"
    assert _oim([(True, MARK, 5)], position=-3) == 9 * USDT, "buy 5: 2 lots open long"


def test_order_on_the_side_that_grows_the_position_is_all_opening() -> None:
    """Setup: long 3 lots. A buy of 1 lot grows the long: 4.5 USDT."""
    assert _oim([(True, MARK, 1)], position=3) == 9 * USDT // 2, "buy adds to the long"
    assert _oim([(False, MARK, 1)], position=-3) == 9 * USDT // 2, "sell adds to the short"


def test_order_margin_is_the_larger_side_not_the_sum() -> None:
    """Both sides cannot fill into one position: buy 2 (9 USDT) and sell 3 (13.5) -> 13.5."""
    orders = [(True, MARK, 2), (False, MARK, 3)]
    assert _oim(orders) == 1_350 * CENT, "max(9, 13.5)"
    assert _oim([(True, MARK, 4), (False, MARK, 3)]) == 18 * USDT, "max(18, 13.5)"


def test_open_loss_of_a_buy_above_the_mark() -> None:
    """A buy 1 000.0 above the mark loses 1 USDT per lot when filled and marked.

    Setup: mark 90 000.0, buy 1 lot @ 91 000.0 at 20x: 91 / 20 = 4.55 + open loss 1 = 5.55.
    """
    assert _oim([(True, ABOVE, 1)]) == 555 * CENT, "IM 4.55 + open loss 1.00"
    assert _oim([(True, BELOW, 1)]) == 440 * CENT, "a buy below the mark: 88 / 20, no loss"


def test_open_loss_of_a_sell_below_the_mark() -> None:
    """Setup: mark 90 000.0, sell 1 lot @ 88 000.0: 88 / 20 = 4.40 + open loss 2 = 6.40."""
    assert _oim([(False, BELOW, 1)]) == 640 * CENT, "IM 4.40 + open loss 2.00"
    assert _oim([(False, ABOVE, 1)]) == 455 * CENT, "a sell above the mark: no loss"


def test_open_loss_only_on_the_opening_quantity() -> None:
    """Setup: short 1 lot, buy 2 @ 91 000.0: one lot closes, the other opens.

    The opening lot pays 4.55 IM and 1.00 open loss; the closing lot pays nothing.
    """
    assert _oim([(True, ABOVE, 2)], position=-1) == 555 * CENT, "one opening lot"
    assert _oim([(False, BELOW, 3)], position=1) == 2 * 640 * CENT, "two opening lots"


def test_higher_buys_close_first() -> None:
    """Setup: short 2 lots; buys of 2 @ 91 000.0 and 2 @ 88 000.0, given in either order.

    The 91 000.0 buy fills first and closes the short; the 88 000.0 buy opens 2 lots:
    2 x 88 / 20 = 8.8 USDT and no open loss. (The other way round would be 9.1 + 2 = 11.1.)
    """
    for orders in ([(True, ABOVE, 2), (True, BELOW, 2)], [(True, BELOW, 2), (True, ABOVE, 2)]):
        assert _oim(orders, position=-2) == 880 * CENT, f"priority by price: {orders}"


def test_lower_sells_close_first() -> None:
    """Setup: long 2 lots; sells of 2 @ 88 000.0 and 2 @ 91 000.0.

    The 88 000.0 sell closes; the 91 000.0 sell opens 2 lots: 9.1 USDT and no open loss.
    """
    for orders in ([(False, BELOW, 2), (False, ABOVE, 2)],
                   [(False, ABOVE, 2), (False, BELOW, 2)]):
        assert _oim(orders, position=2) == 910 * CENT, f"priority by price: {orders}"


def test_order_margin_rounds_up() -> None:
    """The IM of a side rounds up once: 1 lot @ 90 000.1 at 7x -> 1 285 715 715."""
    assert _oim([(True, 900_001, 1)], mark=900_001, leverage=7) == 1_285_715_715, "rounded up"


def _rest(account: Account, book: OrderBook, order: Order) -> Order:
    """Put ``order`` in ``account``'s open orders and, unless it waits for a trigger, in the
    book (an order is live exactly while it rests in a book)."""
    if not order.type.is_conditional:
        book.add(order)
    account.add_order(order)  # counts it in the running totals while it rests
    return order


def test_resting_shapes_excludes_what_reserves_nothing() -> None:
    """Only live, priced, non-reduce-only, non-conditional orders of the symbol reserve margin.

    Setup: an account with one order of each kind on BTCUSDT and one limit on XAUUSDT.
    """
    account = Account("a")
    btc_book, xau_book = OrderBook("BTCUSDT"), OrderBook("XAUUSDT")
    buy = _rest(account, btc_book, Order(
        order_id=1, account="a", symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=5,
        price=BELOW))
    _rest(account, btc_book, Order(
        order_id=2, account="a", symbol="BTCUSDT", side=Side.SELL, type=OrderType.LIMIT, qty=3,
        price=ABOVE, reduce_only=True))
    _rest(account, btc_book, Order(
        order_id=3, account="a", symbol="BTCUSDT", side=Side.SELL, type=OrderType.STOP_LIMIT,
        qty=3, price=BELOW, trigger_price=BELOW))
    _rest(account, xau_book, Order(
        order_id=4, account="a", symbol="XAUUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=1,
        price=445_000))
    partly_filled = Order(order_id=5, account="a", symbol="BTCUSDT", side=Side.SELL,
                          type=OrderType.LIMIT, qty=4, price=ABOVE)
    partly_filled.filled = 1
    _rest(account, btc_book, partly_filled)
    assert resting_shapes(account, "BTCUSDT") == [(True, BELOW, 5), (False, ABOVE, 3)], (
        "the plain limits, with their remaining quantity")
    btc_book.remove(buy)
    assert resting_shapes(account, "BTCUSDT") == [(False, ABOVE, 3)], (
        "an order that left the book is dropped")


# -- summarize -------------------------------------------------------------------------------------


def _long_account(wallet_usdt: int, lots: int = 10, entry: int = MARK) -> Account:
    """An account with ``wallet_usdt`` and a BTCUSDT position of ``lots`` opened at ``entry``."""
    account = Account("a")
    account.wallet = wallet_usdt * USDT
    account.position("BTCUSDT").apply_fill(lots, entry, K)
    return account


def test_summarize_empty_account() -> None:
    """No positions or orders: everything is the wallet, the margin ratio is 0."""
    account = Account("a")
    account.wallet = 1_000 * USDT
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": MARK})
    assert summary == MarginSummary(
        wallet_balance=1_000 * USDT, unrealized_pnl=0, margin_balance=1_000 * USDT,
        position_margin=0, order_margin=0, maintenance_margin=0,
        available_balance=1_000 * USDT, max_withdraw=1_000 * USDT), f"{summary}"
    assert summary.margin_ratio == 0, "no maintenance margin"


def test_summarize_long_in_profit() -> None:
    """Unrealized profit backs new orders but cannot be withdrawn.

    Setup: wallet 1 000 USDT; long 10 lots (0.01 BTC) @ 90 000.0 at 20x; mark 91 000.0.
    uPnL +10; margin balance 1 010; position IM 910 / 20 = 45.5; MM 0.4 % x 910 = 3.64;
    available 1 010 - 45.5 = 964.5; max withdraw min(964.5, 1 000 - 45.5) = 954.5.
    """
    account = _long_account(1_000)
    account.leverage["BTCUSDT"] = LEV
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": ABOVE})
    assert summary.unrealized_pnl == 10 * USDT, "uPnL"
    assert summary.margin_balance == 1_010 * USDT, "wallet + uPnL"
    assert summary.position_margin == 4_550 * CENT, "910 / 20"
    assert summary.order_margin == 0, "no orders"
    assert summary.maintenance_margin == 364 * CENT, "0.4 % of 910"
    assert summary.available_balance == 96_450 * CENT, "1 010 - 45.5"
    assert summary.max_withdraw == 95_450 * CENT, "the 10 USDT of profit stays"
    # 3.64 / 1 010 = 0.0036039603... -> 360 397 over 1e8, rounded up
    assert summary.margin_ratio == 360_397, f"margin ratio {summary.margin_ratio}"


def test_summarize_long_at_a_loss() -> None:
    """An unrealized loss reduces both the available balance and the max withdraw.

    Setup: as above, mark 89 000.0: uPnL -10; balance 990; IM 890 / 20 = 44.5;
    available 945.5; max withdraw min(945.5, 1 000 - 44.5 = 955.5) = 945.5.
    """
    account = _long_account(1_000)
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": 890_000})
    assert summary.unrealized_pnl == -10 * USDT, "uPnL"
    assert summary.margin_balance == 990 * USDT, "wallet + uPnL"
    assert summary.position_margin == 4_450 * CENT, "default leverage 20: 890 / 20"
    assert summary.available_balance == 94_550 * CENT, "990 - 44.5"
    assert summary.max_withdraw == 94_550 * CENT, "the loss is not withdrawable"
    assert summary.maintenance_margin == 356 * CENT, "0.4 % of 890"


def test_summarize_with_resting_orders() -> None:
    """Order margin comes off the available balance and the max withdraw.

    Setup: wallet 1 000; long 10 lots @ 90 000.0 at 10x, mark 90 000.0; a buy of 5 lots @
    88 000.0 (opening: 440 / 10 = 44) and a sell of 15 lots @ 91 000.0 (10 close, 5 open:
    455 / 10 = 45.5). Order margin max(44, 45.5) = 45.5; position IM 90.
    """
    account = _long_account(1_000)
    account.leverage["BTCUSDT"] = 10
    book = OrderBook("BTCUSDT")
    for order_id, side, qty, price in ((1, Side.BUY, 5, BELOW), (2, Side.SELL, 15, ABOVE)):
        _rest(account, book, Order(order_id=order_id, account="a", symbol="BTCUSDT", side=side,
                                   type=OrderType.LIMIT, qty=qty, price=price))
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": MARK})
    assert summary.position_margin == 90 * USDT, "900 / 10"
    assert summary.order_margin == 4_550 * CENT, "max(44, 45.5)"
    assert summary.available_balance == 1_000 * USDT - 90 * USDT - 4_550 * CENT, "available"
    assert summary.max_withdraw == summary.available_balance, "no profit to hold back"


def test_summarize_sums_symbols_and_skips_symbols_without_a_mark() -> None:
    """Positions on two symbols add up; a symbol with no mark yet contributes nothing.

    Setup: wallet 1 000; long 10 lots BTC @ 90 000.0 (mark 90 000.0); short 100 lots XAU @
    4 450.00 (mark 4 460.00: -1 USDT); an XAG order with no XAG mark.
    """
    account = _long_account(1_000)
    account.position("XAUUSDT").apply_fill(-100, 445_000, XAU.cash_per_tick_lot)
    _rest(account, OrderBook("XAGUSDT"), Order(order_id=7, account="a", symbol="XAGUSDT",
                                          side=Side.BUY, type=OrderType.LIMIT, qty=1_000,
                                          price=7_850))
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": MARK, "XAUUSDT": 446_000})
    assert summary.unrealized_pnl == -1 * USDT, "0.1 oz x -10 USDT"
    assert summary.position_margin == 45 * USDT + 2_230 * CENT, "900 / 20 + 446 / 20"
    assert summary.maintenance_margin == 360 * CENT + 446 * CENT, "0.4 % x 900 + 1 % x 446"
    assert summary.order_margin == 0, "no XAG mark: the XAG order is not counted"


def test_summarize_negative_balance() -> None:
    """When the margin balance is not positive the ratio is None and nothing is withdrawable.

    Setup: wallet 10 USDT, long 10 lots @ 90 000.0, mark 80 000.0: uPnL -100, balance -90.
    """
    account = _long_account(10)
    summary = summarize(account, INSTRUMENTS, {"BTCUSDT": 800_000})
    assert summary.margin_balance == -90 * USDT, "10 - 100"
    assert summary.margin_ratio is None, "no ratio on a negative balance"
    assert summary.max_withdraw == 0, "never below 0"
    assert summary.available_balance < 0, "available goes negative"


def test_margin_ratio_edges() -> None:
    """The ratio is maintenance / balance rounded up; None at a zero or negative balance."""

    def ratio(maintenance: int, balance: int) -> int | None:
        return MarginSummary(wallet_balance=balance, unrealized_pnl=0, margin_balance=balance,
                             position_margin=0, order_margin=0, maintenance_margin=maintenance,
                             available_balance=balance, max_withdraw=0).margin_ratio

    assert ratio(1, 3) == 33_333_334, "1/3 rounds up"
    assert ratio(3, 3) == RATE_SCALE, "100 %: liquidation threshold"
    assert ratio(0, 3) == 0, "no maintenance"
    assert ratio(1, 0) is None, "zero balance"
    assert ratio(1, -1) is None, "negative balance"


def test_summarize_does_not_change_the_account() -> None:
    """summarize is a pure read: the position and wallet are the same afterwards."""
    account = _long_account(1_000)
    before = (account.wallet, account.positions["BTCUSDT"].qty,
              account.positions["BTCUSDT"].cost, dict(account.leverage))
    summarize(account, INSTRUMENTS, {"BTCUSDT": ABOVE})
    after = (account.wallet, account.positions["BTCUSDT"].qty,
             account.positions["BTCUSDT"].cost, dict(account.leverage))
    assert before == after, "summarize must not write"

