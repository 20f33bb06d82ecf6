"""The session's read-only helpers for a screen: ``what_if`` (the cost and resulting
liquidation price of an order before it is placed), ``day_open``, ``entry_ticks`` and ``roe``.
Headless, on the synthetic setup of test_session.py."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from synthetic import Quoter
from test_session import KEY, SILVER, T0, setup

from engine import commands as c
from engine import default_instruments
from engine.enums import OrderType, Side, TimeInForce
from engine.units import NS_PER_SECOND, RATE_SCALE
from scenarios.replay import ReplaySetup
from scenarios.session import Session, entry_ticks, roe


def warm(session: Session, steps: int = 20) -> Session:
    for _ in range(steps):
        session.step()
    return session


def test_what_if_changes_nothing_and_journals_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Session(setup(), KEY, data_dir=tmp_path) as session:
        warm(session)
        before = session.state_hash()
        size = sum(p.stat().st_size for p in tmp_path.iterdir())
        answer = session.what_if(SILVER, "buy", "3", type="market", leverage="20")
        assert answer.ok and answer.cost > 0
        assert session.state_hash() == before
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) == size
        assert session.snapshot().account.positions == ()


def test_what_if_foretells_the_cost_and_the_liquidation_price_of_placing() -> None:
    session = warm(Session(setup(), KEY, balance="400"))
    answer = session.what_if(SILVER, "buy", "50", type="market", leverage="20")
    assert answer.ok and answer.filled == 50_000 and answer.position_size == 50_000
    available = session.snapshot().account.available_balance
    assert session.set_leverage(SILVER, 20).ok
    assert session.place(SILVER, "buy", "50", type="market").ok
    account = session.snapshot().account
    (position,) = account.positions
    assert available - account.available_balance == answer.cost
    assert position.liquidation_price == answer.liquidation_price is not None


def sell_to_the_person(session: Session, qty: str, price: str) -> None:
    """A funded seller takes the person's resting buy at ``price`` (IOC)."""
    market = session.replay.market
    market.submit(c.Deposit(account="seller", amount=Decimal(10**6)))
    market.submit(c.PlaceOrder(account="seller", symbol=SILVER, side=Side.SELL,
                               type=OrderType.LIMIT, qty=Decimal(qty), price=Decimal(price),
                               tif=TimeInForce.IOC))


def test_a_resting_limit_shows_the_liquidation_price_once_it_fills_at_its_price() -> None:
    """Setup: 100 USDT, 20x, a buy of 10 one tick above the best bid (alone at its price, below
    the ask: it rests). Then a taker sells 10 at that price, so it fills exactly as the what-if
    supposed: the same liquidation price."""
    session = warm(Session(setup(), KEY, balance="100"))
    assert session.set_leverage(SILVER, 20).ok
    bid = session.snapshot().symbol(SILVER).book.bids[0][0]
    price = f"{(bid + 1) / 100:.2f}"
    before = session.state_hash()
    answer = session.what_if(SILVER, "buy", "10", price=price)
    assert session.state_hash() == before
    assert answer.ok and answer.rests and answer.filled == 0 and answer.cost > 0
    assert answer.position_size == 10_000 and answer.liquidation_price is not None
    assert answer.liquidation_price < bid + 1
    assert session.place(SILVER, "buy", "10", price=price).ok
    sell_to_the_person(session, "10", price)
    (position,) = session.snapshot().account.positions
    assert position.size == 10_000
    assert position.liquidation_price == answer.liquidation_price


def cancel_the_others(session: Session) -> None:
    market = session.replay.market
    for account_id, account in list(session.exchange.accounts.items()):
        for order in list(account.orders.values()):
            if account_id != session.account_id and order.symbol == SILVER and order.live:
                market.submit(c.CancelOrder(account=account_id, order_id=order.order_id))


def test_a_stop_shows_the_liquidation_price_once_triggered_and_filled() -> None:
    """A buy stop of 10 at one tick above the mark, 20x, on 100 USDT; then the same order
    filled by hand at that price (the others' orders out of the way, a limit there, a seller
    taking it): the same liquidation price."""
    session = warm(Session(setup(), KEY, balance="100"))
    mark = session.snapshot().symbol(SILVER).prices.mark
    trigger = f"{(mark + 1) / 100:.2f}"
    before = session.state_hash()
    answer = session.what_if(SILVER, "buy", "10", type="stop_market", trigger=trigger,
                             leverage="20")
    assert session.state_hash() == before
    assert answer.ok and answer.waits and not answer.rests and answer.filled == 0
    assert answer.refused_on_fill is None and answer.fill_price == mark + 1
    assert answer.cost == 0 < answer.cost_on_fill
    assert answer.position_size == 10_000 and answer.liquidation_price is not None
    cancel_the_others(session)
    assert session.set_leverage(SILVER, 20).ok
    assert session.place(SILVER, "buy", "10", price=trigger).ok
    sell_to_the_person(session, "10", trigger)
    (position,) = session.snapshot().account.positions
    assert position.size == 10_000
    assert position.liquidation_price == answer.liquidation_price


def test_a_stop_far_from_the_mark_is_filled_at_its_trigger_not_refused_by_the_band() -> None:
    """10 % away, past the price band of the mark now: once triggered the mark is there."""
    session = warm(Session(setup(), KEY, balance="100"))
    mark = session.snapshot().symbol(SILVER).prices.mark
    for side, trigger, sign in (("sell", mark * 9 // 10, -1), ("buy", mark * 11 // 10, 1)):
        answer = session.what_if(SILVER, side, "10", type="stop_market",
                                 trigger=f"{trigger / 100:.2f}", leverage="20")
        assert answer.ok and answer.waits and answer.refused_on_fill is None, answer
        assert answer.fill_price == trigger and answer.position_size == sign * 10_000
        liquidation = answer.liquidation_price
        assert liquidation is not None and (liquidation - trigger) * sign < 0


def test_a_stop_the_margin_cannot_fill_says_so() -> None:
    session = warm(Session(setup(), KEY, balance="100"))
    mark = session.snapshot().symbol(SILVER).prices.mark
    answer = session.what_if(SILVER, "buy", "500", type="stop_market",
                             trigger=f"{(mark + 5) / 100:.2f}", leverage="20")
    assert answer.ok and answer.waits, "the stop itself is accepted now"
    assert answer.refused_on_fill is not None
    assert answer.refused_on_fill.startswith("insufficient_margin"), answer
    assert answer.liquidation_price is None and answer.position_size == 0
    assert answer.cost_on_fill is None


def test_the_persons_own_orders_do_not_take_the_previewed_fill() -> None:
    """A resting buy of 5 one tick under the best bid, then the preview of an isolated 20x buy
    of 3 ten ticks under it: the preview is the same as with the resting buy cancelled (had
    it stayed, the stand-in's sell would have filled it first, a better price)."""
    session = warm(Session(setup(), KEY, balance="1000"))
    bid = session.snapshot().symbol(SILVER).book.bids[0][0]
    assert session.set_margin_mode(SILVER, "isolated").ok and session.set_leverage(SILVER, 20).ok
    placed = session.place(SILVER, "buy", "5", price=f"{(bid - 1) / 100:.2f}")
    assert placed.ok

    def preview():  # type: ignore[no-untyped-def]
        return session.what_if(SILVER, "buy", "3", price=f"{(bid - 10) / 100:.2f}",
                               margin_mode="isolated")  # its mode already: not refused

    with_own = preview()
    assert session.cancel(placed.order_id).ok
    alone = preview()
    assert with_own.ok and with_own.rests and with_own.position_size == 3_000, with_own
    assert with_own.liquidation_price is not None
    assert (with_own.liquidation_price, with_own.cost_on_fill) == (
        alone.liquidation_price, alone.cost_on_fill)


def test_the_preview_sets_the_margin_mode_first() -> None:
    """Isolated, 20x, 10 of silver on 1 000 USDT: a liquidation price about 5 % under the
    entry; in cross mode the whole wallet backs it (none)."""
    session = warm(Session(setup(), KEY, balance="1000"))
    cross = session.what_if(SILVER, "buy", "10", type="market", leverage="20")
    isolated = session.what_if(SILVER, "buy", "10", type="market", leverage="20",
                               margin_mode="isolated")
    assert cross.ok and isolated.ok
    assert cross.liquidation_price is None
    mark = session.snapshot().symbol(SILVER).prices.mark
    assert isolated.liquidation_price is not None
    assert 0.93 * mark < isolated.liquidation_price < 0.97 * mark
    assert session.set_margin_mode(SILVER, "isolated").ok
    assert session.set_leverage(SILVER, 20).ok
    assert session.place(SILVER, "buy", "10", type="market").ok
    (position,) = session.snapshot().account.positions
    assert position.liquidation_price == isolated.liquidation_price
    again = session.what_if(SILVER, "buy", "1", type="market", margin_mode="isolated")
    assert again.ok, "the mode it already has is not changed (nor refused for the position)"


def test_what_if_refuses_as_place_would() -> None:
    session = warm(Session(setup(), KEY))
    answer = session.what_if(SILVER, "buy", "1")            # a limit without a price
    placed = session.place(SILVER, "buy", "1")
    assert not answer.ok and answer.reason == placed.reason == "invalid_price"
    too_high = session.what_if(SILVER, "buy", "1", type="market", leverage="500")
    assert not too_high.ok and too_high.reason is not None
    bad = session.what_if(SILVER, "buy", "1", type="market", leverage="lots")
    assert not bad.ok and bad.reason == "invalid_leverage"


def test_entry_and_roe_of_a_position_come_from_its_view() -> None:
    session = warm(Session(setup(), KEY))
    assert session.place(SILVER, "buy", "1", type="market").ok
    fill = session.snapshot().fills[-1]
    (position,) = session.snapshot().account.positions
    instrument = session.instruments[SILVER]
    assert entry_ticks(position, instrument) == fill.price
    expected = position.unrealized_pnl * RATE_SCALE // position.initial_margin
    assert roe(position) == expected


def test_day_open_is_the_index_a_day_before_the_clock() -> None:
    hours = 49
    times = T0 + np.arange(hours, dtype=np.int64) * 3600 * NS_PER_SECOND
    index = 7000 + np.arange(hours, dtype=np.int64)
    plan = ReplaySetup(name="hours", seed=1, instruments=default_instruments(), times=times,
                       index={SILVER: index}, participants=[Quoter()])
    session = Session(plan, "hours:1")
    assert session.day_open(SILVER) == 7000                  # younger than a day: the start
    session.jump_to(int(times[30]))
    while session.target is not None:
        session.tick(0.0)
    assert session.day_open(SILVER) == 7000 + 30 - 24
    assert session.day_open("NOPE") is None
