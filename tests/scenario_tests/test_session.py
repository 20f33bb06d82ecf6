"""The trading session, headless: the person's commands, the clock, snapshots and the journal
that makes a restart resume. A synthetic setup with two small participants (as in
test_replay.py), so nothing here depends on the bundled scenarios."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import synthetic
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import SILVER, T0

from engine import default_instruments
from engine.enums import Side
from engine.units import CASH_SCALE, NS_PER_SECOND
from scenarios.replay import ReplaySetup
from scenarios.session import SPEEDS, Session, SessionError

KEY = "synthetic:7:2026-01-07T10:00Z..10:30Z"
ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
"""On the child's path too: the session is built from ``synthetic``."""


EVENTS = ((T0 + 600 * NS_PER_SECOND, "News", "ten minutes in"),
          (T0 + 1200 * NS_PER_SECOND, "More news", "twenty minutes in"))


def setup(seed: int = 7, seconds: int = 1800, drift: float = -0.05) -> ReplaySetup:
    """Fresh every time: participants are stateful."""
    return synthetic.setup(seed, seconds, drift, calendar=EVENTS)


def session(**options) -> Session:  # type: ignore[no-untyped-def]
    return Session(setup(), KEY, **options)


def position(s: Session) -> int:
    return s.replay.market.position("you", SILVER)


def to_step(s: Session, step: int) -> None:
    while s.replay.steps_done < step:
        s.step()


def orders(s: Session) -> tuple:
    view = s.exchange.view_account("you")
    assert view is not None
    return view.orders


# -- the person's commands ----------------------------------------------------------------------

def test_the_balance_is_deposited_at_the_first_step() -> None:
    s = session(balance="2500")
    view = s.snapshot().account
    assert view is not None and view.wallet_balance == 2500 * CASH_SCALE
    assert s.replay.steps_done == 1 and s.now == T0


def test_place_amend_cancel_through_the_session() -> None:
    s = session()
    s.advance(10)
    placed = s.place(SILVER, "buy", "2.5", price="70.00")
    assert placed.ok and placed.order_id is not None and placed.filled == 0
    [order] = orders(s)
    assert (order.order_id, order.price, order.qty) == (placed.order_id, 7000, 2500)
    amended = s.amend(placed.order_id, qty="1", price="70.50")
    assert amended.ok and amended.order_id == placed.order_id
    [order] = orders(s)
    assert (order.price, order.qty) == (7050, 1000)  # silver's lot: 0.001 oz
    assert s.cancel(placed.order_id).ok
    assert orders(s) == ()
    s.exchange.check_invariants()


def test_every_order_type_and_flag_reaches_the_engine() -> None:
    s = session()
    s.advance(10)
    mark = s.exchange.mark[SILVER]
    assert mark is not None
    below, above = f"{(mark - 300) / 100:.2f}", f"{(mark + 300) / 100:.2f}"
    assert s.place(SILVER, "buy", "2", type="market").ok  # a long the reduce-only ones reduce
    assert s.place(SILVER, "buy", "1", type="limit", price=below, tif="gtc", post_only=True).ok
    assert s.place(SILVER, "buy", "1", type="stop_market", trigger=above,
                   trigger_by="last").ok
    assert s.place(SILVER, "buy", "1", type="stop-limit", trigger=above, price=above).ok
    assert s.place(SILVER, "sell", "1", type="take_profit_market", trigger=above,
                   reduce_only=True).ok
    assert s.place(SILVER, "sell", "1", type="take_profit_limit", trigger=above,
                   price=above, reduce_only=True).ok
    kinds = sorted((o.type.value, o.trigger_by and o.trigger_by.value, o.post_only,
                    o.reduce_only) for o in orders(s))
    assert kinds == [("limit", None, True, False), ("stop_limit", "mark", False, False),
                     ("stop_market", "last", False, False),
                     ("take_profit_limit", "mark", False, True),
                     ("take_profit_market", "mark", False, True)]
    ioc = s.place(SILVER, "buy", "1", price=below, tif="ioc")
    assert ioc.ok and ioc.filled == 0 and len(orders(s)) == 5


def test_market_order_opens_and_close_at_market_flattens() -> None:
    s = session()
    s.advance(10)
    assert s.set_leverage(SILVER, "20x").ok
    opened = s.place(SILVER, "buy", "10", type="market")
    assert opened.ok and opened.filled == 10_000 and position(s) == 10_000
    closed = s.close_position(SILVER)
    assert closed.ok and closed.filled == 10_000 and position(s) == 0
    assert [f.qty for f in s.snapshot().fills][-1] > 0
    refused = s.close_position(SILVER)
    assert (refused.ok, refused.reason) == (False, "no_position")


def test_close_at_a_limit_rests_reduce_only() -> None:
    s = session()
    s.advance(10)
    s.place(SILVER, "sell", "3", type="market")
    mark = s.exchange.mark[SILVER]
    assert mark is not None
    result = s.close_position(SILVER, price=f"{(mark - 200) / 100:.2f}")
    assert result.ok and result.filled == 0
    [order] = orders(s)
    assert (order.side, order.qty, order.reduce_only, order.price) == (Side.BUY, 3000, True,
                                                                       mark - 200)


def test_quantity_in_usdt_is_rounded_down_to_the_lot_at_the_mark() -> None:
    s = session()
    s.advance(10)
    mark = s.exchange.mark[SILVER]
    assert mark is not None
    result = s.place(SILVER, "buy", "1000", price="70.00", qty_in="usdt")
    assert result.ok
    [order] = orders(s)
    # 1000 USDT / (mark ticks x 0.01 USDT a tick-lot of 0.01 oz): floor
    cash_per_tick_lot = s.instruments[SILVER].cash_per_tick_lot
    assert order.qty == 1000 * CASH_SCALE // (mark * cash_per_tick_lot)
    assert order.qty * mark * cash_per_tick_lot <= 1000 * CASH_SCALE
    assert (order.qty + 1) * mark * cash_per_tick_lot > 1000 * CASH_SCALE
    tiny = s.place(SILVER, "buy", "0.0001", price="70.00", qty_in="usdt")
    assert (tiny.ok, tiny.reason) == (False, "invalid_qty") and "less than one lot" in tiny.message


@pytest.mark.parametrize("call, reason, words", [
    (lambda s: s.place(SILVER, "buy", "abc", price="70"), "invalid_qty", "not a number"),
    (lambda s: s.place(SILVER, "buy", "1.0001", price="70"), "invalid_qty", "lot size"),
    (lambda s: s.place(SILVER, "buy", "1", price="70.005"), "invalid_price", "tick size"),
    (lambda s: s.place(SILVER, "buy", "1", price="NaN"), "invalid_price", "finite"),
    (lambda s: s.place(SILVER, "up", "1", price="70"), "invalid_order", "buy, sell"),
    (lambda s: s.place(SILVER, "buy", "1", type="moon", price="70"), "invalid_order", "limit"),
    (lambda s: s.place("DOGEUSDT", "buy", "1", price="70"), "unknown_symbol", "DOGEUSDT"),
    (lambda s: s.amend(999, price="70"), "unknown_order", "999"),
    (lambda s: s.cancel("first"), "unknown_order", "not a number"),
    (lambda s: s.set_leverage(SILVER, "lots"), "invalid_leverage", "whole number"),
    (lambda s: s.set_margin_mode(SILVER, "both"), "invalid_margin_mode", "cross, isolated"),
])
def test_a_mistake_is_a_refusal_with_a_reason_and_changes_nothing(call, reason, words,
                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = session(data_dir=tmp_path)
    s.advance(10)
    before, journal = s.state_hash(), sorted(p.read_bytes() for p in tmp_path.glob("*.log"))
    result = call(s)
    assert (result.ok, result.reason) == (False, reason) and words in result.message
    assert s.state_hash() == before
    assert sorted(p.read_bytes() for p in tmp_path.glob("*.log")) == journal
    s.close()


def test_the_engine_refusal_comes_back_with_its_reason_and_changes_no_account() -> None:
    s = session(balance="10")
    s.advance(10)
    before = s.exchange.view_account("you")
    result = s.place(SILVER, "buy", "100", type="market")
    assert (result.ok, result.reason) == (False, "insufficient_margin") and result.message
    assert s.exchange.view_account("you") == before
    assert s.set_leverage(SILVER, 1000).reason == "leverage_too_high"


# -- the clock ----------------------------------------------------------------------------------

def test_step_and_pause() -> None:
    s = session()
    assert s.paused and s.tick(5.0).steps == 0 and s.now == T0
    assert s.step().steps == 1 and s.now == T0 + NS_PER_SECOND
    s.resume()
    assert s.tick(3.0).steps == 3 and s.now == T0 + 4 * NS_PER_SECOND
    s.toggle_pause()
    assert s.paused and s.tick(100.0).steps == 0
    assert s.step().steps == 1 and s.replay.steps_done == 6


def test_the_speed_ladder() -> None:
    s = session(paused=False)
    assert s.rate == 1
    assert [s.faster() for _ in range(5)] == [10, 60, 600, 3600, 3600]
    assert [s.slower() for _ in range(6)] == [600, 60, 10, 1, 0, 0]
    assert s.paused and s.faster() == 1 and not s.paused
    with pytest.raises(SessionError, match="speed 5"):
        session(speed=5)
    assert SPEEDS == (1, 10, 60, 600, 3600)


def test_tick_runs_speed_times_elapsed_and_the_clock_moves_between_steps() -> None:
    s = session(paused=False, speed=60)
    result = s.tick(0.5)  # 30 simulated seconds
    assert (result.steps, result.now, result.behind) == (30, T0 + 30 * NS_PER_SECOND, False)
    s.slower()
    s.slower()  # 1x
    s.tick(0.25)  # a quarter second: no step due, but the clock moves
    assert s.now == T0 + 30 * NS_PER_SECOND + NS_PER_SECOND // 4 and s.replay.steps_done == 31


def test_a_frame_is_bounded_and_the_clock_waits_for_the_market() -> None:
    s = session(paused=False, speed=3600, max_steps=50)
    result = s.tick(1.0)
    assert (result.steps, result.behind) == (50, True)
    assert s.now == T0 + 50 * NS_PER_SECOND  # the last step run, not an hour on


def test_jump_to_the_next_event_runs_the_market_up_to_it() -> None:
    s = session(max_steps=200)
    event = s.jump_to_next_event()
    assert event is not None and event.title == "News" and s.target == event.ts
    while s.target is not None:
        s.tick(0.0)  # paused: only the jump goes on
    assert s.now == event.ts and s.replay.market.now == event.ts and s.paused
    assert s.snapshot().next_event.title == "More news"  # type: ignore[union-attr]
    plain = session()
    plain.replay.advance(max_steps=600)
    assert plain.state_hash() == s.state_hash()  # the same market: nothing skipped
    s.jump_to_next_event()
    while s.target is not None:
        s.tick(0.0)
    assert s.next_event is None and s.jump_to_next_event() is None


# -- snapshots ----------------------------------------------------------------------------------

def test_a_snapshot_shows_the_market_and_changes_nothing() -> None:
    s = session(paused=False, speed=60)
    s.tick(1.0)
    s.place(SILVER, "buy", "5", type="market")
    before = s.state_hash()
    snap = s.snapshot(depth=3)
    assert s.state_hash() == before
    silver = snap.symbol(SILVER)
    assert len(silver.book.bids) == 3 and silver.prices.mark is not None
    assert silver.trades and all(t.symbol == SILVER for t in silver.trades)
    assert snap.fills and snap.fills[-1].account == "you"
    assert (snap.scenario, snap.speed, snap.paused, snap.step) == ("synthetic", 60, False, 61)
    assert snap.account is not None and snap.account.positions[0].size == 5000
    with pytest.raises(AttributeError):
        snap.now = 0  # type: ignore[misc]


def test_the_person_hears_of_a_liquidation() -> None:
    s = Session(setup(drift=-0.3), KEY, balance="300")
    s.advance(5)
    assert s.set_leverage(SILVER, 20).ok
    assert s.place(SILVER, "buy", "70", type="market").ok
    while not s.finished:
        s.advance(600)
    stages = [event.stage.value for event in s.snapshot().liquidations]
    assert stages and stages[0] == "reduce"


# -- the journal --------------------------------------------------------------------------------

def script(s: Session, upto: int = 1800) -> None:
    """A fixed sequence of commands at fixed steps, up to step ``upto``."""
    plan = [(20, lambda: s.set_leverage(SILVER, 10)),
            (40, lambda: s.place(SILVER, "buy", "20", type="market")),
            (41, lambda: s.place(SILVER, "sell", "5", price="90.00")),
            (300, lambda: s.place(SILVER, "buy", "500", qty_in="usdt", price="60.00")),
            (301, lambda: s.amend(orders(s)[-1].order_id, price="61.00")),
            (900, lambda: s.close_position(SILVER)),
            (901, lambda: s.cancel_all())]
    for step, act in plan:
        if step < s.replay.steps_done:
            continue  # done before a restart
        if step > upto:
            break
        to_step(s, step)
        assert act().ok
    to_step(s, upto)


def test_a_restart_resumes_with_the_state_of_an_uninterrupted_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    whole = session()
    script(whole, 1200)
    first = session(data_dir=tmp_path)
    script(first, 500)
    first.close()
    assert first.replay.steps_done == 500
    second = session(data_dir=tmp_path, balance="55")  # the journal's balance wins
    assert second.replay.steps_done == 500 and second.now == first.now
    assert "started with 10000 USDT" in second.notices[0]
    assert orders(second) == orders(first)
    script(second, 1200)  # go on from where it was, with the rest of the commands
    assert second.state_hash() == whole.state_hash()
    assert second.snapshot().fills == whole.snapshot().fills
    second.close()
    third = session(data_dir=tmp_path)
    assert third.state_hash() == whole.state_hash()
    third.close()


def test_pausing_marks_where_the_person_got(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = session(data_dir=tmp_path, paused=False, speed=60)
    first.tick(2.0)
    first.pause()
    reached = first.replay.steps_done
    first._journal.close()  # type: ignore[union-attr]  # no close(): as a process that died
    again = session(data_dir=tmp_path)
    assert again.replay.steps_done == reached == 121
    again.close()


def test_every_so_many_steps_a_marker_is_journalled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = session(data_dir=tmp_path, paused=False, speed=60, mark_every=50, max_steps=30)
    for _ in range(3):
        first.tick(0.5)  # 30 steps a frame, no pause, no close
    assert first.replay.steps_done == 91
    first._journal.close()  # type: ignore[union-attr]
    again = session(data_dir=tmp_path)
    assert again.replay.steps_done == 61  # the marker once 50 steps had run: at most 50 lost
    again.close()


ACTIONS = [lambda s: s.place(SILVER, "buy", "2", type="market"),
           lambda s: s.place(SILVER, "sell", "1", price="95.00"),
           lambda s: s.place(SILVER, "buy", "100000", type="market"),  # refused by the engine
           lambda s: s.place(SILVER, "buy", "1.00001"),  # refused by the session
           lambda s: s.close_position(SILVER),
           lambda s: s.cancel_all(),
           lambda s: s.set_leverage(SILVER, 5)]


@settings(max_examples=12, deadline=None)
@given(plan=st.lists(st.tuples(st.integers(2, 200), st.integers(0, len(ACTIONS) - 1)),
                     max_size=8),
       cut=st.integers(1, 200))
def test_resuming_anywhere_is_the_uninterrupted_run(plan, cut) -> None:  # type: ignore[no-untyped-def]
    import tempfile
    plan = sorted(plan)

    def play(s: Session, upto: int) -> None:
        for step, action in plan:
            if s.replay.steps_done <= step < upto:
                to_step(s, step)
                ACTIONS[action](s)
        to_step(s, upto)

    whole = Session(setup(seconds=220), KEY)
    play(whole, 210)
    with tempfile.TemporaryDirectory() as directory:
        first = Session(setup(seconds=220), KEY, data_dir=directory)
        play(first, cut)
        first.close()
        second = Session(setup(seconds=220), KEY, data_dir=directory)
        assert second.state_hash() == first.state_hash()
        play(second, 210)
        second.close()
    assert second.state_hash() == whole.state_hash()


def test_a_torn_last_record_is_dropped_with_a_notice(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = session(data_dir=tmp_path)
    script(first, 400)
    first.close()  # the last record: the marker of step 400
    [segment] = tmp_path.glob("journal-*.log")
    data = segment.read_bytes()
    segment.write_bytes(data[:-3])  # a crash in the middle of writing it
    again = session(data_dir=tmp_path)
    assert any("torn" in notice for notice in again.snapshot().notices)
    reference = session()
    script(reference, 301)  # the last command was applied at step 301
    assert again.replay.steps_done == 301 and again.state_hash() == reference.state_hash()
    again.close()


def test_another_setup_key_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    session(data_dir=tmp_path).close()
    with pytest.raises(SessionError, match="holds the session of 'synthetic:7"):
        Session(setup(), "synthetic:8:whole", data_dir=tmp_path)
    session(data_dir=tmp_path).close()  # the refusal released the directory


def test_an_exchange_journal_is_refused_and_a_session_journal_refused_by_exec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from engine.durable import DurableSession
    from engine.journal import JournalError
    exchange_dir, session_dir = tmp_path / "exec", tmp_path / "session"
    durable = DurableSession(exchange_dir, default_instruments())
    durable.submit(1, b'{"cmd":"deposit","account":"a","amount":"5"}')
    durable.close(snapshot_on_close=False)
    with pytest.raises(SessionError, match="exchange's journal"):
        session(data_dir=exchange_dir)
    session(data_dir=session_dir).close()
    with pytest.raises(JournalError, match="trading session's journal"):
        DurableSession(session_dir, default_instruments())


CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("session_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
s = module.session(data_dir=sys.argv[2])
for n in range(1000):
    s.replay.advance(max_steps=3)
    result = s.place("XAGUSDT", "buy", "1", price="50.00")
    print(s.replay.steps_done, result.order_id, flush=True)
"""


def test_a_killed_process_loses_no_acknowledged_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    child = subprocess.Popen([sys.executable, "-c", CHILD, __file__, str(tmp_path)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env={**os.environ,
                                  "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])})
    assert child.stdout is not None
    acknowledged = [child.stdout.readline().split() for _ in range(20)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    resumed = session(data_dir=tmp_path)
    ids = {o.order_id for o in orders(resumed)}
    assert {int(order_id) for _, order_id in acknowledged} <= ids
    # the same as a run that placed as many orders at the same steps
    reference = session()
    for _ in range(len(ids)):
        reference.replay.advance(max_steps=3)
        reference.place(SILVER, "buy", "1", price="50.00")
    reference.replay.advance(max_steps=resumed.replay.steps_done - reference.replay.steps_done)
    assert resumed.state_hash() == reference.state_hash()
    resumed.close()


def test_balances_that_are_not_positive_numbers_are_refused() -> None:
    for balance in ("0", "-5", "abc", "inf"):
        with pytest.raises(SessionError, match="positive number of USDT"):
            session(balance=balance)
    assert Decimal(10000) == session().snapshot().account.wallet_balance / CASH_SCALE  # type: ignore[union-attr]
