"""The participants, each on its own rules, and together in a short replay."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from engine import Exchange, default_instruments
from engine import unit_commands as u
from engine.enums import OrderType, Side
from engine.units import CASH_SCALE, NS_PER_SECOND, parse_timestamp
from scenarios.agents.arbitrageur import Arbitrageur
from scenarios.agents.build import build_participants
from scenarios.agents.crowd import LIQUIDATED, Crowd, draw_leverage, pair_by_size
from scenarios.agents.market_maker import MarketMaker
from scenarios.agents.params import (
    ArbitrageurParams,
    CrowdParams,
    MakerParams,
    ParticipantsError,
    parse,
)
from scenarios.market import Market
from scenarios.replay import Replay, ReplaySetup

SILVER = "XAGUSDT"
T0 = parse_timestamp("2026-01-07T10:00:00Z")
INSTRUMENTS = default_instruments()


def market_at(index: int = 8000) -> Market:
    exchange = Exchange(INSTRUMENTS)
    market = Market(exchange, (SILVER,))
    exchange.execute(u.MarketStep(ts=T0, index={SILVER: index}))
    market.observe(T0, {SILVER: index})
    return market


# -- the crowd's leverage -----------------------------------------------------------------


def test_leverage_by_account_count_is_the_mixture() -> None:
    rng = np.random.default_rng(1)
    leverage = draw_leverage(rng, 20_000, np.full(20_000, 50.0))
    assert 0.37 < np.mean(leverage < 10) < 0.43
    assert 0.37 < np.mean((leverage >= 10) & (leverage < 30)) < 0.43
    assert 0.17 < np.mean(leverage >= 30) < 0.23
    assert leverage.min() >= 2 and leverage.max() <= 50


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_big_accounts_take_low_leverage_so_notional_weighted_leverage_is_low(seed: int) -> None:
    crowd = Crowd("crowd", (SILVER,), INSTRUMENTS, CrowdParams(accounts=1000), seed)
    equity, leverage = np.array(crowd.equity), np.array(crowd.leverage)
    weighted = float((equity * leverage).sum() / equity.sum())
    assert 3 <= weighted <= 7, weighted
    assert np.median(leverage) >= 10


def test_pairing_by_size_can_be_seen_to_matter() -> None:
    """Without the pairing (leverage independent of equity) the weighted leverage is the
    mean leverage: far above 7. The check above would fire."""
    rng = np.random.default_rng(5)
    equity = 1500 * np.exp(1.4 * rng.standard_normal(1000))
    leverage = draw_leverage(rng, 1000, np.full(1000, 50.0))
    assert (equity * leverage).sum() / equity.sum() > 10
    paired = pair_by_size(rng, equity, leverage)
    assert (equity * paired).sum() / equity.sum() < 7


# -- the market maker ---------------------------------------------------------------------


def maker(params: MakerParams | None = None) -> MarketMaker:
    return MarketMaker("mm", SILVER, INSTRUMENTS[SILVER], params or MakerParams(), 1)


def test_a_maker_quotes_its_levels_both_sides_around_the_index() -> None:
    market, mm = market_at(8000), maker(MakerParams(levels=4, half_spread_bp=5))
    mm.start(market)
    mm.wake(market)
    book = market.book(SILVER, 10)
    assert [p for p, _ in book.bids] == [7996, 7994, 7992, 7990]
    assert [p for p, _ in book.asks] == [8004, 8006, 8008, 8010]
    assert all(q == book.bids[0][1] for _, q in book.bids + book.asks)


def test_volatility_widens_and_past_the_threshold_pulls_far_and_small() -> None:
    calm, mm = market_at(8000), maker()
    bids, _ = mm.ladder(calm, 8000)
    calm._variance[SILVER] = (0.0005) ** 2  # noqa: SLF001 - a volatile minute
    wide, _ = mm.ladder(calm, 8000)
    assert 8000 - wide[0][0] > 8000 - bids[0][0] and not mm.pulled
    calm._variance[SILVER] = (0.002) ** 2  # noqa: SLF001
    pulled, _ = mm.ladder(calm, 8000)
    assert mm.pulled
    assert 8000 - pulled[0][0] >= 10 * (8000 - wide[0][0]) * 0.9
    assert pulled[0][1] < bids[0][1] / 3


def test_inventory_skews_past_the_limit_goes_far_and_past_twice_stops_adding() -> None:
    market, mm = market_at(8000), maker(MakerParams(inventory_limit=50_000, half_spread_bp=10))
    mm.start(market)
    market.submit(u.Deposit(account="seller", amount=10**6 * CASH_SCALE))

    def buy(lots: int) -> None:
        market.submit(u.PlaceOrder(account="seller", symbol=SILVER, side=Side.SELL,
                                   type=OrderType.LIMIT, qty=lots, price=8000))
        market.submit(u.PlaceOrder(account="mm", symbol=SILVER, side=Side.BUY,
                                   type=OrderType.LIMIT, qty=lots, price=8000))

    flat_bids, flat_asks = maker(MakerParams(inventory_limit=50_000, half_spread_bp=10)
                                 ).ladder(market_at(), 8000)
    buy(300_000)
    assert market.position("mm", SILVER) == 300_000  # 24 000 USDT long
    bids, asks = mm.ladder(market, 8000)
    assert asks[0][0] < flat_asks[0][0]  # leans: cheaper asks to sell the inventory
    assert bids[0][1] == flat_bids[0][1]
    buy(400_000)  # 56 000 USDT: past the limit
    bids, asks = mm.ladder(market, 8000)
    assert 8000 - bids[0][0] >= 10 * (8000 - flat_bids[0][0]) - 2
    assert bids[0][1] == flat_bids[0][1] // 4 and asks[0][1] == flat_asks[0][1]
    buy(600_000)  # 104 000 USDT: past twice the limit
    bids, asks = mm.ladder(market, 8000)
    assert bids == () and asks
    # hedged 80 % off the venue, the same position counts 20 800 USDT: both sides quoted at
    # their full size, leaning
    mm.params = msgspec.structs.replace(mm.params, hedge_share=0.8)
    bids, asks = mm.ladder(market, 8000)
    assert bids and bids[0][1] == flat_bids[0][1] and asks[0][0] < flat_asks[0][0]


def test_a_maker_never_crosses_someone_elses_order() -> None:
    market, mm = market_at(8000), maker(MakerParams(half_spread_bp=5))
    mm.start(market)
    market.submit(u.Deposit(account="grid", amount=10**5 * CASH_SCALE))
    market.submit(u.PlaceOrder(account="grid", symbol=SILVER, side=Side.SELL,
                               type=OrderType.LIMIT, qty=1000, price=7995))
    mm.wake(market)
    book = market.book(SILVER, 10)
    assert book.bids and max(p for p, _ in book.bids) < 7995
    assert market.position("mm", SILVER) == 0


# -- the arbitrageur ----------------------------------------------------------------------


def test_an_arbitrageur_sells_a_rich_perp_and_buys_a_cheap_one() -> None:
    market = market_at(8000)
    arb = Arbitrageur("arb", SILVER, INSTRUMENTS[SILVER], ArbitrageurParams(threshold_bp=5), 1)
    arb.start(market)
    market.submit(u.Deposit(account="mm", amount=10**7 * CASH_SCALE))
    market.submit(u.PlaceOrder(account="mm", symbol=SILVER, side=Side.BUY,
                               type=OrderType.LIMIT, qty=10**6, price=8020))  # 25 bp rich
    arb.wake(market)
    assert market.position("arb", SILVER) < 0


def test_an_arbitrageur_out_of_margin_stops_adding() -> None:
    market = market_at(8000)
    arb = Arbitrageur("arb", SILVER, INSTRUMENTS[SILVER],
                      ArbitrageurParams(capital_usdt=50, threshold_bp=5, clip=20_000), 1)
    arb.start(market)
    market.submit(u.Deposit(account="mm", amount=10**7 * CASH_SCALE))
    market.submit(u.PlaceOrder(account="mm", symbol=SILVER, side=Side.BUY,
                               type=OrderType.LIMIT, qty=10**6, price=8020))
    arb.wake(market)
    assert market.position("arb", SILVER) == 0
    assert arb._blocked_until > market.now  # noqa: SLF001


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("table, where", [
    ({"crowd": {"accounts": -1}}, "participants.crowd.accounts"),
    ({"crowd": {"acounts": 5}}, "participants.crowd: Object contains unknown field `acounts`"),
    ({"makers": {"levels": "five"}}, "participants.makers.levels"),
    ({"hedgers": {}}, "unknown field `hedgers`"),
])
def test_bad_parameters_name_the_field(table: dict, where: str) -> None:
    with pytest.raises(ParticipantsError, match=where.replace(".", r"\.").replace("`", "`")):
        parse(table)


def test_a_bad_per_symbol_override_names_the_symbol() -> None:
    with pytest.raises(ParticipantsError, match=r"participants\.makers\.symbol\.XAGUSDT"):
        build_participants({"makers": {"symbol": {SILVER: {"levels": 0}}}}, (SILVER,),
                           INSTRUMENTS, 1)


# -- together -------------------------------------------------------------------------------


def rising_market(seed: int, hours: float = 6.0, rise: float = 0.15,
                  participants: dict | None = None) -> Replay:
    seconds = int(hours * 3600)
    rng = np.random.default_rng(seed)
    times = T0 + np.arange(0, seconds, 5, dtype=np.int64) * NS_PER_SECOND
    steps = rng.normal(0, 0.0003, len(times)) + rise / len(times)
    path = np.rint(8000 * np.exp(np.cumsum(steps))).astype(np.int64)
    table = participants or {"makers": {"count": 2}, "noise": {"count": 5},
                             "crowd": {"accounts": 200, "mean_wait_hours": 0.5,
                                       "hold_hours": 2.0, "trend_hours": 1.0}}
    agents = build_participants(table, (SILVER,), INSTRUMENTS, seed)
    return Replay(ReplaySetup(name="rising", seed=seed, instruments=INSTRUMENTS, times=times,
                              index={SILVER: path}, participants=agents))


def crowd_of(replay: Replay) -> Crowd:
    return next(a for a in replay.setup.participants if isinstance(a, Crowd))


def test_in_a_rising_market_the_momentum_crowd_is_net_long() -> None:
    replay = rising_market(3)
    replay.run()
    replay.exchange.check_invariants()
    crowd = crowd_of(replay)
    net = sum(replay.market.position(a, SILVER) for a in crowd.accounts)
    assert crowd.entries > 100 and net > 0


def test_the_same_seed_is_the_same_market_and_another_differs() -> None:
    a, b, c = rising_market(4, hours=1), rising_market(4, hours=1), rising_market(5, hours=1)
    a.run(), b.run(), c.run()
    assert a.exchange.state_hash() == b.exchange.state_hash() != c.exchange.state_hash()


def test_a_liquidated_account_comes_back() -> None:
    replay = rising_market(6, hours=8, rise=-0.25)
    replay.run()
    crowd = crowd_of(replay)
    assert crowd.liquidations > 0
    returned = [k for k, account in enumerate(crowd.accounts)
                if crowd.state[k] != LIQUIDATED
                and replay.exchange.accounts[account].deposited > 1.5 * crowd.equity[k]
                * CASH_SCALE]
    assert returned, "some liquidated account deposited again"
