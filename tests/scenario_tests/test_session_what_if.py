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
    market = session.replay.market
    market.submit(c.Deposit(account="seller", amount=Decimal(10**6)))
    market.submit(c.PlaceOrder(account="seller", symbol=SILVER, side=Side.SELL,
                               type=OrderType.LIMIT, qty=Decimal(10), price=Decimal(price),
                               tif=TimeInForce.IOC))
    (position,) = session.snapshot().account.positions
    assert position.size == 10_000
    assert position.liquidation_price == answer.liquidation_price


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
