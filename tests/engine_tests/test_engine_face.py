"""The engine's face to the layers above (DESIGN.md §3.1): commands in engine units, the market
step, the ladder replace, read models and event selection."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from engine import commands as c
from engine import events as e
from engine import unit_commands as u
from engine.enums import OrderType, RejectReason, Side
from engine.exchange import Exchange
from engine.protocol import decode_command
from engine.units import format_cash, parse_timestamp

GOLDEN = Path(__file__).parent / "golden"
T0 = parse_timestamp("2026-01-07T10:00:00Z")
S = 10**9
CASH = 10**8
OZ = 1000
"""Lots in an ounce of silver (lot 0.001)."""


def started(unit: bool = True) -> Exchange:
    """Silver and bitcoin priced, a maker and a trader with money."""
    ex = Exchange()
    for command in ([u.AdvanceTime(ts=T0), u.SetIndex(symbol="XAGUSDT", price=7850),
                     u.SetIndex(symbol="BTCUSDT", price=900000),
                     u.Deposit(account="mm", amount=1_000_000 * CASH),
                     u.Deposit(account="t", amount=1_000 * CASH)] if unit else
                    [c.AdvanceTime(ts="2026-01-07T10:00:00Z"),
                     c.SetIndex(symbol="XAGUSDT", price=Decimal("78.50")),
                     c.SetIndex(symbol="BTCUSDT", price=Decimal("90000.0")),
                     c.Deposit(account="mm", amount=Decimal(1_000_000)),
                     c.Deposit(account="t", amount=Decimal(1_000))]):
        assert not [ev for ev in ex.execute(command) if isinstance(ev, e.Rejected)]
    return ex


def session() -> list[tuple[c.Command, u.UnitCommand]]:
    """The same session twice: on the wire, and in engine units (silver: 0.01 tick, 1 oz lot;
    bitcoin: 0.1 tick, 0.001 lot)."""
    D = Decimal
    return [
        (c.PlaceOrder(account="mm", symbol="XAGUSDT", side=Side.SELL, type=OrderType.LIMIT,
                      qty=D(50), price=D("78.60"), client_id="a1"),
         u.PlaceOrder(account="mm", symbol="XAGUSDT", side=Side.SELL, type=OrderType.LIMIT,
                      qty=50 * OZ, price=7860, client_id="a1")),
        (c.PlaceOrder(account="mm", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=D(40), price=D("78.40")),
         u.PlaceOrder(account="mm", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=40 * OZ, price=7840)),
        (c.SetLeverage(account="t", symbol="XAGUSDT", leverage=20),
         u.SetLeverage(account="t", symbol="XAGUSDT", leverage=20)),
        (c.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.MARKET,
                      qty=D(25)),
         u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.MARKET,
                      qty=25 * OZ)),
        (c.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.SELL,
                      type=OrderType.STOP_MARKET, qty=D(25), trigger_price=D("76.00"),
                      reduce_only=True),
         u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.SELL,
                      type=OrderType.STOP_MARKET, qty=25 * OZ, trigger_price=7600,
                      reduce_only=True)),
        (c.AmendOrder(account="mm", client_id="a1", qty=D(40), price=D("78.70")),
         u.AmendOrder(account="mm", client_id="a1", qty=40 * OZ, price=7870)),
        (c.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=D(0), price=D("78.00")),
         u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=0, price=7800)),
        (c.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=D(5000), price=D("78.00")),
         u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                      qty=5000 * OZ, price=7800)),
        (c.AdvanceTime(ts="2026-01-07T10:00:30Z"), u.AdvanceTime(ts=T0 + 30 * S)),
        (c.SetIndex(symbol="XAGUSDT", price=Decimal("75.00")),
         u.SetIndex(symbol="XAGUSDT", price=7500)),
        (c.Withdraw(account="t", amount=Decimal("10.5")), u.Withdraw(account="t",
                                                                      amount=1_050_000_000)),
        (c.CancelAll(account="mm", symbol="XAGUSDT"), u.CancelAll(account="mm",
                                                                  symbol="XAGUSDT")),
        (c.CancelOrder(account="mm", order_id=99), u.CancelOrder(account="mm", order_id=99)),
    ]


def without_message(event: e.Event) -> e.Event:
    return msgspec.structs.replace(event, message="") if isinstance(event, e.Rejected) else event


def test_unit_commands_give_the_events_and_state_of_the_wire_commands():
    wire, units = started(unit=False), started(unit=True)
    assert wire.state_hash() == units.state_hash()
    kinds = set()
    for wire_command, unit_command in session():
        wire_events, unit_events = wire.execute(wire_command), units.execute(unit_command)
        # the same events; a refusal's message quotes the number as it was given
        assert [without_message(ev) for ev in unit_events] == [
            without_message(ev) for ev in wire_events], unit_command
        assert units.state_hash() == wire.state_hash()
        units.check_invariants()
        kinds.update(type(ev).__name__ for ev in unit_events)
    # the session reached matching, a trigger, a rejection and a cancellation
    assert {"Fill", "Triggered", "Rejected", "Cancelled", "Amended"} <= kinds


@pytest.mark.parametrize("command, reason", [
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=-1,
                  price=7800), RejectReason.INVALID_QTY),
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=1.5,
                  price=7800), RejectReason.INVALID_QTY),
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                  qty=10**12, price=7800), RejectReason.ABOVE_MAX_QTY),
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=1,
                  price=0), RejectReason.INVALID_PRICE),
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT,
                  qty=OZ, price=9999), RejectReason.PRICE_OUT_OF_BAND),
    (u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY, type=OrderType.MARKET, qty=1,
                  price=7800), RejectReason.INVALID_ORDER),
    (u.Deposit(account="t", amount=0), RejectReason.INVALID_AMOUNT),
    (u.Deposit(account="@insurance", amount=5), RejectReason.UNKNOWN_ACCOUNT),
    (u.Withdraw(account="t", amount=10**30), RejectReason.INVALID_AMOUNT),
    (u.AdvanceTime(ts=T0 - 1), RejectReason.TIME_GOES_BACKWARDS),
    (u.AdvanceTime(ts=2**63), RejectReason.INVALID_TIMESTAMP),
    (u.MarketStep(ts=T0 + S, index={"XAGUSDT": 7851, "NOPE": 1}), RejectReason.UNKNOWN_SYMBOL),
    (u.MarketStep(ts=T0 + S, index={"XAGUSDT": 7851, "BTCUSDT": -1}),
     RejectReason.INVALID_PRICE),
    (u.MarketStep(ts=T0 - S, index={"XAGUSDT": 7851}), RejectReason.TIME_GOES_BACKWARDS),
])
def test_a_bad_unit_command_is_rejected_with_its_reason_and_changes_nothing(command, reason):
    ex = started()
    before, seq = ex.state_hash(), ex.seq
    [event] = ex.execute(command)
    assert isinstance(event, e.Rejected) and event.reason is reason, event
    assert event.cmd == command.name
    ex.seq = seq  # the rejection itself is numbered; nothing else may differ
    assert ex.state_hash() == before


def test_market_step_sets_clock_and_every_index_and_remarks_each_symbol_once():
    stepped, separate = started(), started()
    step = u.MarketStep(ts=T0 + 5 * S, index={"XAGUSDT": 7900, "BTCUSDT": 905000})
    events = stepped.execute(step)
    marks = [ev for ev in events if isinstance(ev, e.Mark)]
    assert sorted(m.symbol for m in marks) == ["BTCUSDT", "XAGUSDT"]
    assert all(m.ts == T0 + 5 * S for m in marks)
    for command in (u.AdvanceTime(ts=T0 + 5 * S), u.SetIndex(symbol="XAGUSDT", price=7900),
                    u.SetIndex(symbol="BTCUSDT", price=905000)):
        separate.execute(command)
    for symbol in ("XAGUSDT", "BTCUSDT", "XAUUSDT"):
        assert stepped.view_symbol(symbol) == separate.view_symbol(symbol)
    assert stepped.now == separate.now == T0 + 5 * S


def test_market_step_fires_triggers_and_liquidates_like_separate_commands():
    ex = started()
    for command in session()[:5]:
        ex.execute(command[1])
    events = ex.execute(u.MarketStep(ts=T0 + S, index={"XAGUSDT": 7500}))
    assert [ev for ev in events if isinstance(ev, e.Triggered)], "the stop at 76.00 fired"
    ex.check_invariants()


def quotes(ex: Exchange, account: str, symbol: str = "XAGUSDT") -> dict[int, tuple]:
    view = ex.view_account(account)
    assert view is not None
    return {o.order_id: (o.side, o.price, o.remaining) for o in view.orders
            if o.symbol == symbol and o.resting}


def test_ladder_replace_keeps_priority_of_unchanged_and_smaller_levels():
    ex = started()
    ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT",
                               bids=((7849, 10 * OZ), (7848, 10 * OZ), (7847, 10 * OZ)),
                               asks=((7851, 10 * OZ), (7852, 10 * OZ))))
    first = quotes(ex, "mm")
    assert len(first) == 5
    ex.execute(u.Deposit(account="other", amount=10_000 * CASH))
    ex.execute(u.PlaceOrder(account="other", symbol="XAGUSDT", side=Side.BUY,
                            type=OrderType.LIMIT, qty=3 * OZ, price=7849))
    queue_before = {o.order_id: o.queued for o in ex.books["XAGUSDT"].orders.values()}
    events = ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT",
                                        bids=((7849, 10 * OZ), (7848, 4 * OZ),
                                              (7847, 20 * OZ), (7846, 5 * OZ)),
                                        asks=None))
    kinds = [type(ev).__name__ for ev in events]
    assert kinds == ["Cancelled", "Amended", "Accepted", "Accepted"], kinds
    after = quotes(ex, "mm")
    book = ex.books["XAGUSDT"]
    by_price = {price: oid for oid, (side, price, _) in after.items() if side is Side.BUY}
    # 78.49 unchanged and 78.48 smaller: same orders, same place in the queue
    assert by_price[7849] in first and book.orders[by_price[7849]].queued == queue_before[
        by_price[7849]]
    assert by_price[7848] in first and after[by_price[7848]][2] == 4 * OZ
    # 78.47 larger: a new order, behind anything that was there
    assert by_price[7847] not in first
    # the asks were left alone
    assert {oid for oid, q in after.items() if q[0] is Side.SELL} == {
        oid for oid, q in first.items() if q[0] is Side.SELL}
    # the other account's order at 78.49 is still behind mm's unchanged quote
    level = next(lv for lv in book.levels(Side.BUY) if lv.price == 7849)
    assert [o.account for o in level.live_orders()] == ["mm", "other"]
    ex.check_invariants()


def test_ladder_replace_leaves_reduce_only_and_waiting_orders_alone():
    """Setup: the maker holds a short, a resting reduce-only bid that closes part of it, a
    stop waiting for its trigger and a ladder. A replace of the bids rewrites the ladder's
    quotes only: the reduce-only bid and the stop are neither cancelled nor counted as
    quotes."""
    ex = started()
    ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT", bids=((7840, 10 * OZ),),
                               asks=((7860, 5 * OZ),)))
    ex.execute(u.PlaceOrder(account="t", symbol="XAGUSDT", side=Side.BUY,
                            type=OrderType.LIMIT, qty=5 * OZ, price=7860))  # takes the ask
    assert ex.accounts["mm"].position_qty("XAGUSDT") == -5 * OZ, "mm is short"
    [close] = [ev for ev in ex.execute(u.PlaceOrder(
        account="mm", symbol="XAGUSDT", side=Side.BUY, type=OrderType.LIMIT, qty=2 * OZ,
        price=7841, reduce_only=True)) if isinstance(ev, e.Accepted)]
    [stop] = [ev for ev in ex.execute(u.PlaceOrder(
        account="mm", symbol="XAGUSDT", side=Side.BUY, type=OrderType.STOP_MARKET,
        qty=1 * OZ, trigger_price=8000, reduce_only=True)) if isinstance(ev, e.Accepted)]
    events = ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT",
                                        bids=((7841, 10 * OZ), (7838, 10 * OZ))))
    touched = {ev.order_id for ev in events if hasattr(ev, "order_id")}
    assert close.order_id not in touched and stop.order_id not in touched, events
    assert close.order_id in ex.books["XAGUSDT"].orders
    assert sorted(p for _, p, _ in quotes(ex, "mm").values()) == [7838, 7841, 7841]
    ex.check_invariants()


def test_ladder_replace_that_would_trade_or_overspend_changes_nothing():
    ex = started()
    ex.execute(u.PlaceOrder(account="mm", symbol="XAGUSDT", side=Side.SELL,
                            type=OrderType.LIMIT, qty=10 * OZ, price=7860))
    ex.execute(u.ReplaceLadder(account="t", symbol="XAGUSDT", bids=((7840, 10 * OZ),)))
    before, seq = ex.state_hash(), ex.seq
    for ladder, reason in [
        (u.ReplaceLadder(account="t", symbol="XAGUSDT", bids=((7860, 1 * OZ),)),
         RejectReason.POST_ONLY_WOULD_TAKE),
        # 1 000 USDT at the default leverage cannot hold 2 000 oz of silver
        (u.ReplaceLadder(account="t", symbol="XAGUSDT",
                         bids=((7830, 1000 * OZ), (7820, 1000 * OZ))),
         RejectReason.INSUFFICIENT_MARGIN),
        (u.ReplaceLadder(account="t", symbol="XAGUSDT", bids=((7830, 1 * OZ), (7830, 2 * OZ))),
         RejectReason.INVALID_ORDER),
        (u.ReplaceLadder(account="t", symbol="XAGUSDT", asks=((7000, 1 * OZ),)),
         RejectReason.PRICE_OUT_OF_BAND),
        # its own new bid over its own new ask: neither is in the book yet to be seen there
        (u.ReplaceLadder(account="t", symbol="XAGUSDT", bids=((7850, 1 * OZ),),
                         asks=((7848, 1 * OZ),)),
         RejectReason.INVALID_ORDER),
        (u.ReplaceLadder(account="t", symbol="XAGUSDT", bids=((7849, 1 * OZ),),
                         asks=((7849, 1 * OZ),)),
         RejectReason.INVALID_ORDER),
    ]:
        [event] = ex.execute(ladder)
        assert isinstance(event, e.Rejected) and event.reason is reason, event
        ex.seq = seq
        assert ex.state_hash() == before


def test_ladder_replace_may_move_quotes_through_its_own_old_ones():
    """Shifting a whole ladder up: the new bid sits where the old ask was, which the same
    command cancels, so it does not count as a cross."""
    ex = started()
    ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT", bids=((7849, 5 * OZ),),
                               asks=((7851, 5 * OZ),)))
    events = ex.execute(u.ReplaceLadder(account="mm", symbol="XAGUSDT", bids=((7851, 5 * OZ),),
                                        asks=((7853, 5 * OZ),)))
    assert not [ev for ev in events if isinstance(ev, e.Rejected)], events
    assert ex.books["XAGUSDT"].best_bid() == 7851 and ex.books["XAGUSDT"].best_ask() == 7853
    ex.check_invariants()


def test_one_margin_check_for_the_whole_ladder():
    """A ladder whose total fits the available balance is accepted, one more lot is not."""
    ex = started()
    view = ex.view_account("t")
    assert view is not None
    ex.execute(u.SetLeverage(account="t", symbol="XAGUSDT", leverage=10))
    accepted = ex.execute(u.ReplaceLadder(account="t", symbol="XAGUSDT",
                                          bids=((7800, 60 * OZ), (7700, 60 * OZ))))
    assert all(isinstance(ev, e.Accepted) for ev in accepted)
    assert ex.view_account("t").order_margin > 900 * CASH  # type: ignore[union-attr]
    [refused] = ex.execute(u.ReplaceLadder(account="t", symbol="XAGUSDT",
                                           bids=((7800, 60 * OZ), (7700, 60 * OZ),
                                                 (7600, 20 * OZ))))
    assert isinstance(refused, e.Rejected)
    assert refused.reason is RejectReason.INSUFFICIENT_MARGIN


def test_reading_views_changes_no_state_and_no_seq():
    ex = started()
    for _, command in session()[:5]:
        ex.execute(command)
    before, seq = ex.state_hash(), ex.seq
    account = ex.view_account("t")
    book = ex.view_book("XAGUSDT", 5)
    symbol = ex.view_symbol("XAGUSDT")
    fund = ex.view_insurance()
    assert ex.view_account("nobody") is None
    assert (ex.state_hash(), ex.seq) == (before, seq)
    answer = ex.execute(c.Query(what="account", account="t"))[0]
    assert isinstance(answer, e.Answer)
    assert account is not None
    assert format_cash(account.wallet_balance) == answer.data["wallet_balance"]
    assert format_cash(account.available_balance) == answer.data["available_balance"]
    [position] = account.positions
    assert position.size == 25 * OZ and position.symbol == "XAGUSDT"
    assert ex.instruments["XAGUSDT"].format_price(position.liquidation_price) == (
        answer.data["positions"][0]["liquidation_price"])
    assert book.asks[0] == (7860, 25 * OZ) and book.bids[0] == (7840, 40 * OZ)
    assert symbol.open_interest == 25 * OZ and symbol.mark == 7850
    assert fund.balance == 0 and fund.positions == ()
    with pytest.raises(AttributeError):
        account.wallet_balance = 0  # type: ignore[misc]  # frozen


def wire_session(name: str) -> list[c.Command]:
    commands = []
    for line in (GOLDEN / name).read_bytes().splitlines():
        if line.strip() and not line.startswith(b"#"):
            try:
                commands.append(decode_command(line))
            except ValueError:
                continue
    return commands


@pytest.mark.parametrize("name", ["liquidations.in.jsonl", "funding-liquidation.in.jsonl",
                                  "triggers.in.jsonl"])
def test_event_selection_changes_no_state_and_keeps_seq(name):
    everything, selected = Exchange(), Exchange()
    selected.select_events([e.Trade, e.Liquidation])
    for command in wire_session(name):
        full = everything.execute(command)
        few = selected.execute(command)
        assert few == [ev for ev in full if isinstance(ev, (e.Trade, e.Liquidation))]
        assert selected.state_hash() == everything.state_hash()
    assert everything.seq == selected.seq > 0
    selected.select_events(None)
    assert selected.execute(c.Query(what="insurance"))  # everything is built again


def test_open_interest_total_is_an_invariant_that_can_fire():
    ex = started()
    for _, command in session()[:4]:
        ex.execute(command)
    ex.check_invariants()
    ex.open_interest["XAGUSDT"] += 1
    with pytest.raises(AssertionError, match="open interest total"):
        ex.check_invariants()


def test_reduce_only_index_is_an_invariant_that_can_fire():
    ex = started()
    for _, command in session()[:5]:  # t holds a reduce-only stop
        ex.execute(command)
    ex.check_invariants()
    ex.accounts["t"].reducing["XAGUSDT"].clear()
    with pytest.raises(AssertionError, match="reduce-only index is stale"):
        ex.check_invariants()


def test_no_sweep_at_an_unchanged_mark_with_nothing_written(monkeypatch):
    """The clock ticks a second at a time on a quiet book: the mark does not move and no
    wallet or position changes, so no symbol is swept; a write brings the sweep back."""
    ex = started()
    for _, command in session()[:4]:  # t holds 25 oz of silver
        ex.execute(command)
    sweeps: list[str] = []
    screen_candidates = ex.screen.candidates

    def counted(symbol: str, mark: int) -> list[str]:
        sweeps.append(symbol)
        return screen_candidates(symbol, mark)

    monkeypatch.setattr(ex.screen, "candidates", counted)
    ex.execute(u.AdvanceTime(ts=T0 + S))  # the first tick sweeps what the session wrote
    sweeps.clear()
    for second in range(2, 6):
        events = ex.execute(u.AdvanceTime(ts=T0 + second * S))
        assert not [ev for ev in events if isinstance(ev, e.Mark)], "the mark held"
    assert sweeps == []
    ex.execute(u.Deposit(account="t", amount=CASH))
    ex.execute(u.AdvanceTime(ts=T0 + 6 * S))
    assert "XAGUSDT" in sweeps


def test_ladder_tier_check_counts_the_ladder_as_it_would_stand():
    """The tier of a side's reach counts the quotes the ladder keeps and adds, not those it
    cancels: moving a full-size quote is accepted, adding a second one past the cap is not."""
    ex = started()
    silver = ex.instruments["XAGUSDT"]
    leverage = silver.max_leverage
    cap = silver.tier_caps[0]
    lots = cap // silver.notional(7850, 1)  # the most that fits the first tier at the mark
    assert silver.max_leverage_for(silver.notional(7850, lots + lots // 2)) < leverage
    ex.execute(u.Deposit(account="w", amount=10 * cap))
    ex.execute(u.SetLeverage(account="w", symbol="XAGUSDT", leverage=leverage))
    for bids in [((7800, lots),), ((7790, lots),)]:  # placed, then moved
        events = ex.execute(u.ReplaceLadder(account="w", symbol="XAGUSDT", bids=bids))
        assert not [ev for ev in events if isinstance(ev, e.Rejected)], events
    before = ex.state_hash()
    [refused] = ex.execute(u.ReplaceLadder(account="w", symbol="XAGUSDT",
                                           bids=((7790, lots), (7780, lots // 2))))
    assert isinstance(refused, e.Rejected) and refused.reason is RejectReason.LEVERAGE_TOO_HIGH
    ex.seq -= 1
    assert ex.state_hash() == before
    ex.check_invariants()
