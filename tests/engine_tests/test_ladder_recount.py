"""A ladder replace installs the plain ladders its margin check built
(``SymbolReserve.replace_quotes``), against the drop and refresh of each order it stands in for.

Setup: a seeded stream of ladder replaces (levels kept, shrunk, grown to the back of the queue
at the same price, moved, sides cleared or left alone) from a few makers, with market orders,
IOCs and reduce-only closes of takers filling and shrinking the quotes, cancels and index
moves. The stream runs twice: as shipped, and with ``replace_quotes`` done one order at a
time (``drop`` then ``refresh``, the built ladders ignored: what the replace did before). The
events and the state hash of every command must be identical, and so must every account's
totals, held order by order in the same order; after every command the totals must also equal
their recomputation from the orders themselves (``check_reserve``).
"""

from __future__ import annotations

import random

import pytest
from two_tier import MID, START_NS, two_tier

from engine import Exchange, OrderType, Side
from engine import unit_commands as u
from engine.enums import TimeInForce
from engine.reserve import EMPTY, SymbolReserve, check_reserve

SYMBOL = "XLAD"
MAKERS = [f"m{n}" for n in range(3)]
TAKERS = [f"t{n}" for n in range(3)]


def one_by_one(reserve: SymbolReserve, gone, orders, plain) -> None:
    """The reference: what ``replace_quotes`` installs, done order by order."""
    for order_id in gone:
        reserve.drop(order_id)
    for order in orders:
        reserve.refresh(order)


def new_exchange() -> Exchange:
    exchange = Exchange(two_tier(SYMBOL))
    exchange.execute(u.AdvanceTime(ts=START_NS))
    for n, account in enumerate(MAKERS + TAKERS):
        # a poor maker is refused for margin now and then
        exchange.execute(u.Deposit(account=account, amount=(30 + 2_000 * n) * 10**8))
    exchange.execute(u.SetIndex(symbol=SYMBOL, price=MID))
    return exchange


def levels(rng: random.Random, mark: int, is_buy: bool, last: list[int]):
    """A side of a ladder: mostly the last prices again (kept, shrunk or grown), some moved."""
    if rng.random() < 0.1:
        return None if rng.random() < 0.5 else ()
    prices = list(last) if last and rng.random() < 0.7 else [
        mark - d if is_buy else mark + d for d in rng.sample(range(1, 60), rng.randint(1, 8))]
    if prices and rng.random() < 0.3:
        prices.pop(rng.randrange(len(prices)))
    if rng.random() < 0.3:
        prices.append(mark - rng.randint(1, 80) if is_buy else mark + rng.randint(1, 80))
    # bids below the mark, asks above it: a ladder's own sides never cross each other (the
    # replace checks its quotes against the book only; that it accepts a ladder whose bids
    # cross its asks is a known gap, not what this test is about)
    wanted = {price: rng.choice([50, 100, 200, 400, 1_000]) for price in prices
              if (price < mark if is_buy else price > mark)}
    last[:] = list(wanted)
    return tuple(wanted.items())


def commands(seed: int, steps: int):
    rng = random.Random(seed)
    mark = MID
    quoted = {(maker, is_buy): [] for maker in MAKERS for is_buy in (True, False)}
    for _ in range(steps):
        r = rng.random()
        if r < 0.5:
            maker = rng.choice(MAKERS)
            yield u.ReplaceLadder(account=maker, symbol=SYMBOL,
                                  bids=levels(rng, mark, True, quoted[maker, True]),
                                  asks=levels(rng, mark, False, quoted[maker, False]))
        elif r < 0.8:
            account = rng.choice(TAKERS + MAKERS[:1])
            side = rng.choice([Side.BUY, Side.SELL])
            if rng.random() < 0.5:
                yield u.PlaceOrder(account=account, symbol=SYMBOL, side=side,
                                   type=OrderType.MARKET, qty=rng.choice([30, 150, 700]),
                                   reduce_only=rng.random() < 0.2)
            else:
                offset = rng.randint(-20, 40)
                yield u.PlaceOrder(
                    account=account, symbol=SYMBOL, side=side, type=OrderType.LIMIT,
                    qty=rng.choice([20, 100, 500]),
                    price=mark + offset if side is Side.BUY else mark - offset,
                    tif=rng.choice([TimeInForce.GTC, TimeInForce.IOC]),
                    reduce_only=rng.random() < 0.3)
        elif r < 0.9:
            yield u.CancelAll(account=rng.choice(MAKERS + TAKERS), symbol=SYMBOL)
        else:
            mark = max(1, mark + rng.choice([-1, 1]) * rng.choice([5, 30, 300]))
            yield u.SetIndex(symbol=SYMBOL, price=mark)


def totals(exchange: Exchange) -> dict:
    """Every account's running totals as plain data (copies), ``held`` in its order."""
    return {(account.id, symbol): (
        list(reserve.held.items()),
        [(dict(ladder.lots), list(ladder.keys), ladder.total, ladder.value)
         for ladder in reserve.plain + reserve.reducing])
        for account in exchange.accounts.values()
        for symbol, reserve in account.reserves.items()}


def run(seed: int, steps: int) -> list:
    exchange = new_exchange()
    trace = []
    for command in commands(seed, steps):
        events = exchange.execute(command)
        for account in exchange.accounts.values():
            check_reserve(account, exchange.instruments, exchange.mark)
        trace.append((command, events, exchange.state_hash(), totals(exchange)))
    exchange.check_invariants()
    return trace


@pytest.mark.parametrize("seed", range(4))
def test_a_ladder_recount_is_the_drops_and_refreshes_one_by_one(seed, monkeypatch) -> None:
    netted = run(seed, 600)
    kinds = {type(event).__name__ for _, events, _, _ in netted for event in events}
    assert {"Accepted", "Amended", "Cancelled", "Fill"} <= kinds, kinds  # the stream's reach
    with monkeypatch.context() as patch:
        patch.setattr(SymbolReserve, "replace_quotes", one_by_one)
        reference = run(seed, 600)
    for step, (got, want) in enumerate(zip(netted, reference, strict=True)):
        assert got == want, f"step {step}: {got[0]}"


def test_a_side_a_first_ladder_leaves_out_is_a_ladder_of_its_own() -> None:
    """A maker's first ladder on a symbol lists bids only: its ask side must be a new, empty
    ladder, not the one of the shared ``EMPTY`` reserve, which the maker's later asks would
    then fill in for every account with no order on the symbol."""
    exchange = new_exchange()
    exchange.execute(u.ReplaceLadder(account="m0", symbol=SYMBOL, bids=((MID - 10, 100),),
                                     asks=None))
    exchange.execute(u.PlaceOrder(account="m0", symbol=SYMBOL, side=Side.SELL,
                                  type=OrderType.LIMIT, qty=100, price=MID + 10))
    assert exchange.accounts["m0"].reserve_on(SYMBOL).plain[False].total == 100
    assert [ladder.total for ladder in EMPTY.plain + EMPTY.reducing] == [0, 0, 0, 0]
    for account in exchange.accounts.values():
        check_reserve(account, exchange.instruments, exchange.mark)
