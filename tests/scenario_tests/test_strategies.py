"""The shipped example strategies (scenarios/strategies/) and the strategy API's README
example, on the synthetic setup of test_replay.py. The grid also runs in a market whose quoter
first trades away any order priced through the index (as an arbitrageur would), so that the
grid's resting orders fill as the index moves instead of blocking the quoter's post-only
ladder."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np
import pytest
from synthetic import SILVER, T0, Quoter, Taker, setup

import scenarios.strategy
from engine import default_instruments
from engine import unit_commands as u
from engine.enums import OrderType, Side, TimeInForce
from engine.units import NS_PER_SECOND
from scenarios.market import Market
from scenarios.replay import Replay, ReplaySetup
from scenarios.strategies.buy_and_hold import LeveragedBuyAndHold
from scenarios.strategies.grid import Grid
from scenarios.strategy import (
    Context,
    FillInfo,
    OrderInfo,
    Strategy,
    StrategyError,
    load_strategy,
)

EXAMPLES = Path(scenarios.strategy.__file__).parent / "strategies"


def encode(record: object) -> bytes:
    return msgspec.json.encode(record)


# -- buy and hold ---------------------------------------------------------------------------


class AllIn(LeveragedBuyAndHold):
    """9 000 USDT of silver on 1 000 at 10x: liquidated some 9 % below the entry."""

    balance = "1000"
    notional = "9000"
    leverage = 10


class Watched(AllIn):
    """Notes the mark the opening was sized at."""

    def on_start(self, ctx: Context) -> None:
        self.opening_mark = ctx.mark(SILVER)
        super().on_start(ctx)


class Protected(AllIn):
    stop_loss_pct = "3"
    take_profit_pct = "2"


def test_buy_and_hold_opens_the_intended_position_at_the_intended_leverage() -> None:
    strategy = Watched()
    replay = Replay(setup(drift=-0.02), strategy=strategy)
    replay.advance(max_steps=1)
    ctx = replay.context
    assert ctx is not None
    [position] = ctx.account().positions
    lots = position.size
    assert position.leverage == 10
    qty = lots * ctx.instrument(SILVER).lot_size
    # the notional at the opening mark, rounded down to the lot
    assert qty == (Decimal("9000") / strategy.opening_mark).quantize(Decimal("0.001"),
                                                                     "ROUND_FLOOR")
    assert strategy.entry is not None and abs(strategy.entry - Decimal("78.5")) < Decimal("0.05")
    assert ctx.orders() == []  # no stop, no target


def test_buy_and_hold_is_liquidated_in_a_steep_fall_and_survives_a_mild_one() -> None:
    steep = Replay(setup(drift=-0.2), strategy=AllIn())  # the index falls 21 %
    steep.run()
    assert steep.context is not None and steep.context.position(SILVER) == 0
    assert any(text.startswith("liquidated: ") for _, text in steep.context.messages)
    mild = Replay(setup(drift=-0.02), strategy=AllIn())  # 5.7 % at the lowest
    record = mild.run()
    assert mild.context is not None and mild.context.position(SILVER) > 0
    assert not any("liquidated" in text for _, text in mild.context.messages)
    [account] = record.accounts
    assert not account.liquidations


def test_stop_and_take_profit_rest_reduce_only_on_the_mark() -> None:
    strategy = Protected()
    replay = Replay(setup(drift=-0.2), strategy=strategy)
    replay.advance(max_steps=1)
    ctx = replay.context
    assert ctx is not None and strategy.entry is not None
    held = ctx.position(SILVER)
    stop, target = ctx.orders(SILVER)
    assert (stop.type, stop.side, stop.qty, stop.reduce_only, stop.resting) == (
        "stop_market", "sell", held, True, False)
    assert (target.type, target.side, target.qty, target.reduce_only, target.resting) == (
        "take_profit_market", "sell", held, True, False)
    tick = Decimal("0.01")
    # rounded toward the entry: never a larger loss (or a later profit) than asked
    assert stop.trigger == (strategy.entry * Decimal("0.97") / tick).to_integral_value(
        "ROUND_CEILING") * tick
    assert target.trigger == (strategy.entry * Decimal("1.02") / tick).to_integral_value(
        "ROUND_FLOOR") * tick
    # the fall reaches the stop long before the liquidation: closed, the target cancelled
    replay.run()
    assert ctx.position(SILVER) == 0 and ctx.orders() == []
    assert any(text.startswith("stop-loss closed") for _, text in ctx.messages)
    assert not any("liquidated" in text for _, text in ctx.messages)


def test_a_stop_cannot_open_a_short() -> None:
    """Reduce-only: a stop left over with no position would be refused by the venue."""
    replay = Replay(setup(), strategy=Strategy())
    replay.advance(max_steps=1)
    ctx = replay.context
    assert ctx is not None
    assert ctx.place(SILVER, "sell", "1", type="stop_market", trigger="70",
                     reduce_only=True) is None
    assert ctx.rejections[-1][0] == "reduce_only_would_increase"


def test_the_context_lists_open_orders_in_decimals() -> None:
    """``Context.orders``: the account's open orders, oldest first, in the instrument's units;
    a filter by symbol; a filled or cancelled order is gone."""
    replay = Replay(setup(), strategy=Strategy())
    replay.advance(max_steps=1)
    ctx = replay.context
    assert ctx is not None
    low = ctx.buy(SILVER, "1.5", "70.25")
    ctx.set_leverage(SILVER, 10)
    assert ctx.buy(SILVER, "1") is not None  # at market: filled, not open
    high = ctx.sell(SILVER, "0.5", "90", reduce_only=True)
    assert low is not None and high is not None
    first, second = ctx.orders()
    assert first == OrderInfo(order_id=low, symbol=SILVER, side="buy", type="limit",
                              price=D("70.25"), trigger=None, qty=D("1.5"), filled=D(0),
                              reduce_only=False, resting=True)
    assert (second.order_id, second.side, second.price, second.remaining,
            second.reduce_only) == (high, "sell", D("90"), D("0.5"), True)
    assert ctx.orders("BTCUSDT") == [] and ctx.orders(SILVER) == [first, second]
    assert ctx.cancel(low) and [order.order_id for order in ctx.orders()] == [high]


@pytest.mark.parametrize("field, value, words", [
    ("leverage", 0, "leverage: 0 is not a whole number"),
    ("notional", "-5", "notional: '-5' is not a positive number"),
    ("stop_loss_pct", "abc", "stop_loss_pct: 'abc' is not a positive number"),
    ("stop_loss_pct", "100", "stop_loss_pct: must be below 100"),
])
def test_a_bad_buy_and_hold_is_refused_when_loaded(field: str, value: object,
                                                    words: str) -> None:
    bad = type("Bad", (LeveragedBuyAndHold,), {field: value})
    with pytest.raises(StrategyError, match=words):
        bad()


# -- grid -----------------------------------------------------------------------------------


class SweepingQuoter(Quoter):
    """test_replay's quoter, which first takes any order resting through the index (a bid
    above it, an ask below it) with an IOC at the index: its own ladder then never crosses."""

    def wake(self, market: Market) -> int:
        index = market.index[SILVER]
        book = market.book(SILVER, depth=50)
        over = sum(lots for price, lots in book.bids if price > index)
        under = sum(lots for price, lots in book.asks if price < index)
        for side, lots, limit in ((Side.SELL, over, index + 1), (Side.BUY, under, index - 1)):
            if lots:
                market.submit(u.PlaceOrder(account="quoter", symbol=SILVER, side=side,
                                           type=OrderType.LIMIT, qty=lots, price=limit,
                                           tif=TimeInForce.IOC))
        return super().wake(market)


def market(path: np.ndarray, seed: int = 7) -> ReplaySetup:
    """One second a step along ``path`` (ticks), the sweeping quoter and the taker."""
    times = T0 + np.arange(len(path), dtype=np.int64) * NS_PER_SECOND
    return ReplaySetup(name="grid", seed=seed, instruments=default_instruments(), times=times,
                       index={SILVER: np.asarray(path, dtype=np.int64)},
                       participants=[SweepingQuoter(), Taker(seed)])


def steps(*legs: tuple[int, int]) -> np.ndarray:
    """(seconds, ticks) legs of a flat-then-jump index."""
    return np.concatenate([np.full(seconds, ticks, dtype=np.int64) for seconds, ticks in legs])


class SmallGrid(Grid):
    """Three levels a side, 0.1 % apart (8 ticks at 78.50), 2 oz each, checked every 5 s."""

    balance = "5000"
    levels = 3
    spacing = "0.1"
    qty = "2"
    every = 5

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Decimal, list[tuple[str, Decimal]]]] = []
        """(position, open orders as (side, price)) after each fill and each step."""
        self.replaced: list[tuple[str, Decimal, str, Decimal | None]] = []
        """(side, price) of each fill and of the newest open order after it."""

    def _note(self, ctx: Context) -> None:
        orders = [(order.side, order.price) for order in ctx.orders(SILVER)]
        self.seen.append((ctx.position(SILVER), orders))  # type: ignore[arg-type]

    def on_step(self, ctx: Context) -> None:
        super().on_step(ctx)
        self._note(ctx)

    def on_fill(self, ctx: Context, fill: FillInfo) -> None:
        super().on_fill(ctx, fill)
        newest = max(ctx.orders(SILVER), key=lambda order: order.order_id)
        self.replaced.append((fill.side, fill.price, newest.side, newest.price))
        self._note(ctx)


def prices(ctx: Context) -> list[tuple[str, Decimal]]:
    return sorted((order.side, order.price) for order in ctx.orders(SILVER))  # type: ignore[misc]


def D(text: str) -> Decimal:
    return Decimal(text)


def test_the_grid_places_its_ladder_around_the_mark() -> None:
    grid = SmallGrid()
    replay = Replay(market(steps((60, 7850))), strategy=grid)
    replay.advance(max_steps=1)
    ctx = replay.context
    assert ctx is not None
    assert grid.centre == ctx.mark(SILVER) == D("78.50") and grid.step == D("0.08")
    assert prices(ctx) == [("buy", D("78.26")), ("buy", D("78.34")), ("buy", D("78.42")),
                           ("sell", D("78.58")), ("sell", D("78.66")), ("sell", D("78.74"))]
    assert all(order.qty == 2 and order.type == "limit" and not order.reduce_only
               for order in ctx.orders())
    assert ctx.account().positions == ()


def test_a_filled_buy_is_replaced_by_a_sell_one_step_above_and_back() -> None:
    """The index drops through two buys (78.42, 78.34): each becomes a sell one step above
    (78.50, 78.42); back up through 78.42, that sell becomes a buy at 78.34 again."""
    grid = SmallGrid()
    replay = Replay(market(steps((60, 7850), (60, 7830), (60, 7846))), strategy=grid)
    ctx = replay.context
    assert ctx is not None
    replay.advance(until=T0 + 119 * NS_PER_SECOND)
    assert ctx.position(SILVER) == 4
    assert prices(ctx) == [("buy", D("78.26")), ("sell", D("78.42")), ("sell", D("78.50")),
                           ("sell", D("78.58")), ("sell", D("78.66")), ("sell", D("78.74"))]
    # each fill's replacement, placed as the fill is heard
    assert grid.replaced == [("buy", D("78.42"), "sell", D("78.50")),
                             ("buy", D("78.34"), "sell", D("78.42"))]
    replay.run()
    assert ctx.position(SILVER) == 2
    assert prices(ctx) == [("buy", D("78.26")), ("buy", D("78.34")), ("sell", D("78.50")),
                           ("sell", D("78.58")), ("sell", D("78.66")), ("sell", D("78.74"))]
    assert grid.replaced[2:] == [("sell", D("78.42"), "buy", D("78.34"))]
    assert grid.recentres == 0 and ctx.rejections == []


def test_the_grid_recentres_when_the_price_leaves_it_keeping_within_its_levels() -> None:
    """A 1.9 % drop fills all three buys (long 6 oz) and leaves the grid: it re-centres on the
    mark with sells only, since one more buy would take it past 3 levels of 2 oz."""
    grid = SmallGrid()
    replay = Replay(market(steps((60, 7850), (120, 7700))), strategy=grid)
    ctx = replay.context
    assert ctx is not None
    replay.run()
    assert grid.recentres == 1 and ctx.position(SILVER) == 6
    assert grid.centre is not None and abs(grid.centre - D("77.00")) <= D("0.02")
    assert grid.step == D("0.08")
    assert prices(ctx) == [("sell", grid.centre + k * grid.step) for k in (1, 2, 3)]
    assert ctx.messages[-1][1] == f"grid around {grid.centre}, step 0.08: 0 buys, 3 sells"


@pytest.mark.parametrize("seed, drift", [(7, -0.2), (8, 0.1), (9, 0.0)])
def test_the_grid_never_exceeds_its_levels(seed: int, drift: float) -> None:
    """On a random walk: after every fill and step, at most 2 x levels orders, one a price,
    and a position within levels x qty either way."""
    path = setup(seed=seed, drift=drift).index[SILVER]
    grid = SmallGrid()
    replay = Replay(market(path, seed), strategy=grid)
    replay.run()
    assert replay.context is not None
    assert grid.recentres > 0 and len(grid.replaced) > 10
    for held, orders in grid.seen:
        assert len(orders) <= 2 * grid.levels
        assert len({price for _, price in orders}) == len(orders)
        assert abs(held) <= grid.levels * 2
    replay.exchange.check_invariants()


def test_a_refused_grid_order_is_logged_once_not_retried_every_step() -> None:
    """60 USDT at 5x holds the margin of two 157 USDT orders (one a side): the other four are
    refused, each logged once, and not tried again while the grid stays where it is."""
    grid = type("Thin", (SmallGrid,), {"balance": "60"})()
    replay = Replay(market(steps((300, 7850))), strategy=grid)
    ctx = replay.context
    assert ctx is not None
    replay.advance(max_steps=1)
    refused = len(ctx.rejections)
    assert len(ctx.orders()) == 2 and refused == 4
    assert {reason for reason, _ in ctx.rejections} == {"insufficient_margin"}
    logged = [text for _, text in ctx.messages if "refused" in text]
    assert len(logged) == refused
    replay.run()
    assert len(ctx.rejections) == refused and grid.recentres == 0


def test_the_grid_is_deterministic() -> None:
    path = setup(drift=-0.2).index[SILVER]
    runs = []
    for _ in range(2):
        grid = SmallGrid()
        replay = Replay(market(path), strategy=grid)
        record = replay.run()
        assert replay.context is not None
        runs.append((encode(record), replay.context.messages, grid.seen))
    assert runs[0] == runs[1]


def test_buy_and_hold_is_deterministic() -> None:
    runs = []
    for _ in range(2):
        replay = Replay(setup(drift=-0.2), strategy=Protected())
        record = replay.run()
        assert replay.context is not None
        runs.append((encode(record), replay.context.messages))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("field, value, words", [
    ("levels", 0, "levels: 0 is not a whole number"),
    ("spacing", "0", "spacing: '0' is not a positive number"),
    ("qty", "x", "qty: 'x' is not a positive number"),
])
def test_a_bad_grid_is_refused_when_loaded(field: str, value: object, words: str) -> None:
    with pytest.raises(StrategyError, match=words):
        type("Bad", (Grid,), {field: value})()


# -- loading and the README example -------------------------------------------------------


@pytest.mark.parametrize("spec", ["grid.py:Grid", "buy_and_hold.py:LeveragedBuyAndHold"])
def test_the_examples_load_as_the_cli_loads_them(spec: str) -> None:
    strategy = load_strategy(f"{EXAMPLES / spec}")
    replay = Replay(setup(seconds=120, drift=0.0), strategy=strategy)
    replay.run()
    ctx = replay.context
    assert ctx is not None and ctx.rejections == []
    ladder_or_position = ctx.orders(SILVER) if "Grid" in spec else ctx.position(SILVER)
    assert ladder_or_position and ctx.messages


def test_the_ten_line_strategy_of_the_docstring_works(tmp_path: Path) -> None:
    """The example in scenarios/strategy.py's docstring, as written there, in a file of its
    own: 10 oz of silver at 20x, the fills heard."""
    doc = scenarios.strategy.__doc__
    assert doc is not None
    lines = doc.splitlines()
    start = lines.index("    from scenarios.strategy import Strategy")
    end = next(n for n in range(start, len(lines)) if lines[n] and lines[n][0] != " ")
    code = textwrap.dedent("\n".join(lines[start:end]))
    assert "class LongSilver(Strategy)" in code
    (tmp_path / "long_silver.py").write_text(code)
    strategy = load_strategy(f"{tmp_path / 'long_silver.py'}:LongSilver")
    replay = Replay(setup(drift=-0.2), strategy=strategy)
    record = replay.run()
    ctx = replay.context
    assert ctx is not None and ctx.position(SILVER) == 10
    [position] = ctx.account().positions
    assert position.leverage == 20
    [account] = record.accounts
    assert account.deposited == 2000 * 10**8 and not account.liquidations
