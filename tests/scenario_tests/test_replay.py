"""The replay driver on a small synthetic setup (its own two test participants), independent of
the bundled participants: ordering of a step, determinism, event selection, the strategy API,
fixed positions, venue changes and the record's accounting."""

from __future__ import annotations

import io
from decimal import Decimal

import msgspec
import pytest
from synthetic import SILVER, T0, Quoter, Taker, setup

from engine import default_instruments
from engine.enums import Side
from engine.units import NS_PER_SECOND, parse_timestamp
from scenarios.replay import FixedPosition, FundingChange, Replay, ReplayError, ReplaySetup
from scenarios.strategy import Strategy, StrategyError, load_strategy


def encode(record: object) -> bytes:
    return msgspec.json.encode(record)


def test_same_setup_same_record_and_state_different_seed_differs() -> None:
    a, b, c = Replay(setup(7)), Replay(setup(7)), Replay(setup(8))
    ra, rb, rc = a.run(), b.run(), c.run()
    assert encode(ra) == encode(rb)
    assert a.exchange.state_hash() == b.exchange.state_hash()
    assert encode(ra) != encode(rc)
    assert ra.trades > 100 and ra.steps == 1800
    a.exchange.check_invariants()


def test_an_event_log_changes_nothing_else() -> None:
    """With --events every event is built and written; the state and the record are the same
    as without (skipped kinds still take their seq)."""
    log = io.BytesIO()
    logged, plain = Replay(setup(), event_log=log), Replay(setup())
    assert encode(logged.run()) == encode(plain.run())
    assert logged.exchange.state_hash() == plain.exchange.state_hash()
    lines = log.getvalue().splitlines()
    seqs = [msgspec.json.decode(line)["seq"] for line in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[-1] == logged.exchange.seq  # nothing skipped: every seq is in the log
    again = io.BytesIO()
    Replay(setup(), event_log=again).run()
    assert again.getvalue() == log.getvalue()


def test_minutes_add_up_to_the_trades() -> None:
    record = Replay(setup()).run()
    assert len(record.minutes) == 30
    assert sum(row.trades for row in record.minutes) == record.trades
    assert [row.ts for row in record.minutes] == [T0 + 60 * NS_PER_SECOND * k for k in range(30)]
    assert all(row.depth > 0 and row.mid is not None for row in record.minutes)


class Long20(Strategy):
    balance = "300"
    every = 30

    def __init__(self) -> None:
        self.steps = 0
        self.fills: list[Decimal] = []
        self.liquidated: list[str] = []

    def on_start(self, ctx):  # type: ignore[no-untyped-def]
        assert ctx.set_leverage(SILVER, 20)
        assert ctx.buy(SILVER, "70") is not None  # ~5 500 USDT of silver on 300

    def on_step(self, ctx):  # type: ignore[no-untyped-def]
        self.steps += 1

    def on_fill(self, ctx, fill):  # type: ignore[no-untyped-def]
        self.fills.append(fill.qty)

    def on_liquidation(self, ctx, liquidation):  # type: ignore[no-untyped-def]
        self.liquidated.append(liquidation.stage)


def test_a_strategy_trades_is_called_back_and_is_liquidated_in_a_fall() -> None:
    strategy = Long20()
    replay = Replay(setup(drift=-0.2), strategy=strategy)
    record = replay.run()
    assert strategy.fills[0] > 0 and sum(strategy.fills) >= Decimal("70")
    assert strategy.steps == 1800 // 30 - 1
    assert strategy.liquidated and strategy.liquidated[0] == "reduce"
    [account] = record.accounts
    assert account.account == "strategy" and account.liquidations
    split = (account.realized_pnl + account.unrealized_pnl + account.funding_pnl
             - account.fees_paid - account.liquidation_loss)
    assert account.final_equity - account.deposited == split
    assert account.max_drawdown > 0


def test_a_fixed_position_is_opened_at_its_time_and_liquidated() -> None:
    at = T0 + 600 * NS_PER_SECOND
    position = FixedPosition.parse(f"XAGUSDT:long:50@25@{'2026-01-07T10:10:00Z'}")
    assert position == FixedPosition(SILVER, Side.BUY, Decimal(50), 25, at)
    replay = Replay(setup(drift=-0.3), positions=[position])
    replay.advance(until=at)
    [held] = replay.exchange.view_account("position-1").positions  # type: ignore[union-attr]
    assert (held.size, held.isolated, held.leverage) == (50_000, True, 25)
    record = replay.run()
    [account] = record.accounts
    assert account.label == "XAGUSDT long 50 @ 25x"
    assert account.liquidations and account.liquidations[0].ts > at
    assert all(ts >= at - 60 * NS_PER_SECOND for ts, _ in account.equity)
    assert replay.notices == []


@pytest.mark.parametrize("text, words", [
    ("XAGUSDT:long:100", "expected SYMBOL:SIDE:QTY@LEVERAGE"),
    ("XAGUSDT:up:100@20", "side must be long or short"),
    ("XAGUSDT:long:-5@20", "not a positive number"),
    ("XAGUSDT:long:abc@20", "not a positive number"),
    ("XAGUSDT:long:5@0", "leverage '0'"),
    ("XAGUSDT:long:5@20@yesterday", "--position"),
])
def test_bad_positions_are_one_clear_error(text: str, words: str) -> None:
    with pytest.raises(ReplayError, match=words):
        FixedPosition.parse(text)


def test_a_position_outside_the_range_or_market_is_refused_before_running() -> None:
    with pytest.raises(ReplayError, match="unknown symbol DOGEUSDT"):
        Replay(setup(), positions=[FixedPosition.parse("DOGEUSDT:long:1@2")])
    with pytest.raises(ReplayError, match="outside the replay's range"):
        Replay(setup(), positions=[FixedPosition.parse("XAGUSDT:long:1@2@2027-01-01T00:00:00Z")])


def test_a_refused_opening_is_a_notice() -> None:
    """200x is above silver's maximum: the leverage is refused, and the margin deposited for
    200x does not carry the order at the default leverage."""
    replay = Replay(setup(), positions=[FixedPosition.parse("XAGUSDT:long:10@200")])
    replay.run()
    assert len(replay.notices) == 1
    assert "refused (insufficient_margin" in replay.notices[0]


def test_an_opening_the_book_cannot_fill_keeps_trying_then_says_so() -> None:
    """100 000 oz against five levels of 500 oz: each step takes what is there (at most one
    market order's maximum), for ten minutes."""
    replay = Replay(setup(), positions=[FixedPosition.parse("XAGUSDT:long:100000@2")])
    replay.run()
    [notice] = replay.notices
    assert "filled in 600 s (the book was thin)" in notice
    held = replay.exchange.accounts["position-1"].position_qty(SILVER)
    assert 0 < held < 100_000_000


def test_venue_changes_apply_at_their_time() -> None:
    """Silver on 4 h funding and a 0.375 % cap from 10:15: the next settlement is 12:00, not
    the 16:00 of the default 8 h."""
    change = FundingChange(at=T0 + 900 * NS_PER_SECOND, symbol=SILVER,
                           interval_ns=4 * 3600 * NS_PER_SECOND, cap=375_000)
    replay = Replay(setup(changes=(change,)))
    replay.run()
    assert replay.exchange.instruments[SILVER].funding_cap == 375_000
    assert replay.exchange.next_funding(SILVER) == parse_timestamp("2026-01-07T12:00:00Z")
    unchanged = Replay(setup())
    unchanged.run()
    assert unchanged.exchange.next_funding(SILVER) == parse_timestamp("2026-01-07T16:00:00Z")


def test_participants_hear_of_their_own_events() -> None:
    taker = Taker(7)
    replay = Replay(ReplaySetup(name="s", seed=7, instruments=default_instruments(),
                                times=setup().times, index=setup().index,
                                participants=[Quoter(), taker]))
    replay.run()
    assert "Fill" in taker.heard


def test_load_strategy_from_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "mine.py"
    good.write_text("from scenarios.strategy import Strategy\nclass Mine(Strategy):\n"
                    "    balance = '100'\n")
    assert type(load_strategy(f"{good}:Mine")).__name__ == "Mine"
    with pytest.raises(StrategyError, match="no Strategy subclass named Other"):
        load_strategy(f"{good}:Other")
    with pytest.raises(StrategyError, match="does not exist"):
        load_strategy(f"{tmp_path / 'none.py'}:Mine")
    with pytest.raises(StrategyError, match="FILE:CLASS"):
        load_strategy("mine.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(StrategyError, match="RuntimeError: boom"):
        load_strategy(f"{broken}:X")


def test_advancing_in_pieces_is_the_same_replay() -> None:
    """A session advances by budgets of simulated time; the result is the run's, whatever the
    pieces."""
    whole = Replay(setup())
    record = whole.run()
    pieces = Replay(setup())
    assert pieces.advance(until=T0 - 1) == 0
    assert pieces.advance(until=T0 + 299 * NS_PER_SECOND) == 300
    assert pieces.next_time == T0 + 300 * NS_PER_SECOND
    while pieces.advance(max_steps=7):
        pass
    assert pieces.next_time is None and pieces.steps_done == 1800
    assert encode(pieces.finish()) == encode(record)
    assert pieces.exchange.state_hash() == whole.exchange.state_hash()


def test_an_exception_in_a_strategy_names_the_callback_and_line() -> None:
    class Broken(Strategy):
        every = 10

        def on_step(self, ctx):  # type: ignore[no-untyped-def]
            return 1 / 0

    with pytest.raises(StrategyError, match=r"Broken.on_step raised ZeroDivisionError: "
                                            r"division by zero \(.*test_replay.py:\d+\) at "
                                            r"2026-01-07T10:00:10Z"):
        Replay(setup(), strategy=Broken()).run()
