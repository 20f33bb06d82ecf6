"""The engine against the reference matcher, on the same random command stream.

Setup: one symbol with a tick of 0.01 and a lot of 0.001, mark = index, a 4 % price band and no
minimum notional; three accounts with ten million USDT each, so margin never refuses (asserted:
a margin refusal here means the sizes must shrink, not that the refusal may be ignored). Prices
come from a grid of 13 ticks around the mark, which moves between 0.97 and 1.03 (resting orders
stay), so levels collide, orders cross all the time and the band (about ±4 ticks) cuts through
the grid; quantities are 1-5 lots. Buys lean below the mark and sells above it so that the book
keeps some depth.

After every command the test compares, engine (through ``Venue``, which also runs
``check_invariants()``) against ``reference_book.ReferenceBook``:
- the events: accepted (order id) or rejected (reason), each trade (taker id, maker id, price,
  qty), each cancellation (order id, reason, remaining), each amend (qty, remaining, price,
  reason), in order;
- the book: L2 levels of both sides, and every resting order in queue order;
- each account's signed position.

Two drivers: a hypothesis ``RuleBasedStateMachine`` and a plain seeded loop for reproducible
long runs. Each runs with and without reduce-only orders in the stream.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from conftest import START, Venue
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from reference_book import ReferenceBook

from engine.enums import Side
from engine.instrument import parse_instruments

SYMBOL = "TESTUSDT"
TICK = Decimal("0.01")
LOT = Decimal("0.001")
BAND = "0.04"
INSTRUMENTS = f"""
[[instrument]]
symbol = "{SYMBOL}"
tick_size = {TICK}
lot_size = {LOT}
min_qty = {LOT}
max_qty = 1000
max_market_qty = 1000
min_notional = 0
maker_fee = 0.0002
taker_fee = 0.0005
clearance_fee = 0.01
funding_interval_hours = 8
interest_rate = 0.0001
funding_cap = 0.003
price_band = {BAND}
mark_method = "index"
default_leverage = 10
tiers = [{{ notional_floor = 0, notional_cap = 100000000, max_leverage = 20, mmr = 0.01 }}]
"""
ACCOUNTS = ("a", "b", "c")
DEPOSIT = "10000000"
INDEX = 100
"""Starting index in ticks (1.00): the band is 96..104."""
INDICES = range(97, 104)
"""Where the index moves: the band moves with it, resting orders stay."""
DEPTHS = (-3, 8)
"""A limit price is ``mark + 2 - depth`` for a buy and ``mark - 2 + depth`` for a sell: depth
0 crosses a book quoted around the mark, 8 rests far out, -3 is always beyond the band."""
QTY = (1, 5)
AMEND_QTY = (1, 8)
"""Amend totals: some below the filled part, some decreases, some increases."""
TIFS = ("gtc", "gtc", "gtc", "ioc", "fok")
STPS = ("expire_maker", "expire_taker", "expire_both")
PICKS = 100
"""An order is picked by a number below PICKS: under 80 an open order (number modulo their
count), else an arbitrary (account, order id): another account's order, or one that is gone."""
MARGIN_REASONS = {"insufficient_margin", "leverage_too_high"}


def price_text(ticks: int) -> str:
    return str(ticks * TICK)


def ticks(text: str) -> int:
    return int(Decimal(text) / TICK)


def lots(text: str) -> int:
    return int(Decimal(text) / LOT)


class Pair:
    """The engine and the reference, fed the same commands and compared after each."""

    def __init__(self, in_hypothesis: bool = False) -> None:
        self.in_hypothesis = in_hypothesis
        self.venue = Venue(parse_instruments(INSTRUMENTS))
        self.venue("time", ts=START)
        self.venue("index", symbol=SYMBOL, price=price_text(INDEX))
        for account in ACCOUNTS:
            self.venue("deposit", account=account, amount=DEPOSIT)
        self.ref = ReferenceBook(mark=INDEX, band=Fraction(BAND))
        self.log: list[str] = []

    # -- commands, in engine units (ticks, lots) --

    def place(self, account: str, side: str, qty: int, price: int | None, tif: str,
              post_only: bool, reduce_only: bool, stp: str) -> None:
        fields: dict[str, Any] = dict(account=account, symbol=SYMBOL, side=side,
                                      type="market" if price is None else "limit",
                                      qty=str(qty * LOT), tif=tif, post_only=post_only,
                                      reduce_only=reduce_only, stp=stp)
        if price is not None:
            fields["price"] = price_text(price)
        want = self.ref.place(account, side == "buy", qty, price, tif, post_only, reduce_only,
                              stp)
        self._run("place", fields, want)

    def cancel(self, account: str, order_id: int) -> None:
        want = self.ref.cancel(account, order_id)
        self._run("cancel", dict(account=account, order_id=order_id), want)

    def amend(self, account: str, order_id: int, qty: int | None, price: int | None) -> None:
        fields: dict[str, Any] = dict(account=account, order_id=order_id)
        if qty is not None:
            fields["qty"] = str(qty * LOT)
        if price is not None:
            fields["price"] = price_text(price)
        self._run("amend", fields, self.ref.amend(account, order_id, qty, price))

    def index(self, price: int) -> None:
        want = self.ref.set_mark(price)
        self._run("index", dict(symbol=SYMBOL, price=price_text(price)), want)

    # -- comparison --

    def _run(self, cmd: str, fields: dict[str, Any], want: list[tuple]) -> None:
        line = json.dumps({"cmd": cmd, **fields})
        self.log.append(line)
        if self.in_hypothesis:
            note(line)  # printed with the shrunk failing example
        got = normalize(self.venue(cmd, **fields))
        refused = [e for e in got if e[0] == "rejected" and e[1] in MARGIN_REASONS]
        assert not refused, f"margin refused an order (shrink the sizes): {line}"
        where = f"after command {len(self.log)}: {line}"
        assert got == want, f"events differ {where}\n engine:    {got}\n reference: {want}"
        exchange = self.venue.exchange
        book = exchange.books[SYMBOL]
        for side in (Side.BUY, Side.SELL):
            is_buy = side is Side.BUY
            assert book.depth(side, 1000) == self.ref.levels(is_buy), f"{side} levels {where}"
            queue = [(level.price, o.order_id, o.remaining)
                     for level in book.levels(side) for o in level.live_orders()]
            assert queue == self.ref.queue(is_buy), f"{side} queue {where}"
        positions = {a: exchange.accounts[a].position_qty(SYMBOL) for a in ACCOUNTS}
        assert positions == {a: self.ref.position(a) for a in ACCOUNTS}, f"positions {where}"


def normalize(events: list[dict[str, Any]]) -> list[tuple]:
    """The engine's events as the reference's tuples; a trade joins its two fills."""
    out: list[Any] = []
    trades: dict[int, dict[str, int]] = {}
    for event in events:
        kind = event["event"]
        if kind == "accepted":
            out.append(("accepted", event["order_id"]))
        elif kind == "rejected":
            out.append(("rejected", event["reason"]))
        elif kind == "cancelled":
            out.append(("cancelled", event["order_id"], event["reason"],
                        lots(event["remaining"])))
        elif kind == "amended":
            out.append(("amended", event["order_id"], lots(event["qty"]),
                        lots(event["remaining"]),
                        ticks(event["price"]) if "price" in event else None, event["reason"]))
        elif kind == "trade":
            trades[event["trade_id"]] = slot = {"price": ticks(event["price"]),
                                                "qty": lots(event["qty"])}
            out.append(slot)
        elif kind == "fill":
            slot = trades[event["trade_id"]]
            assert (ticks(event["price"]), lots(event["qty"])) == (slot["price"], slot["qty"])
            slot[event["liquidity"]] = event["order_id"]
        else:
            assert kind == "mark", f"unexpected event {event}"
    return [("trade", e["taker"], e["maker"], e["price"], e["qty"]) if isinstance(e, dict)
            else e for e in out]


def limit_price(pair: Pair, is_buy: bool, depth: int) -> int:
    """A price ``depth`` ticks away from just through the mark, on the side's own side."""
    return pair.ref.mark + 2 - depth if is_buy else pair.ref.mark - 2 + depth


def pick_order(pair: Pair, pick: int, account: str, order_id: int) -> tuple[str, int, bool]:
    """(account, order id, is_buy) of an order to cancel or amend; see PICKS."""
    orders = sorted(pair.ref.resting, key=lambda o: o.oid)
    if pick < 80 and orders:
        order = orders[pick % len(orders)]
        return order.account, order.oid, order.is_buy
    order = pair.ref.order(account, order_id)
    return account, order_id, order is None or order.is_buy


# -- the hypothesis state machine ---------------------------------------------------------------


def make_machine(with_reduce_only: bool) -> type[RuleBasedStateMachine]:
    reduce_only = st.booleans() if with_reduce_only else st.just(False)

    class EngineVersusReference(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.pair = Pair(in_hypothesis=True)

        @rule(account=st.sampled_from(ACCOUNTS), side=st.sampled_from(("buy", "sell")),
              qty=st.integers(*QTY), depth=st.integers(*DEPTHS), tif=st.sampled_from(TIFS),
              post_only=st.booleans(), reduce_only=reduce_only, stp=st.sampled_from(STPS))
        def limit(self, account: str, side: str, qty: int, depth: int, tif: str,
                  post_only: bool, reduce_only: bool, stp: str) -> None:
            price = limit_price(self.pair, side == "buy", depth)
            self.pair.place(account, side, qty, price, tif, post_only, reduce_only, stp)

        @rule(account=st.sampled_from(ACCOUNTS), side=st.sampled_from(("buy", "sell")),
              qty=st.integers(*QTY), depth=st.integers(2, DEPTHS[1]), reduce_only=reduce_only)
        def rest(self, account: str, side: str, qty: int, depth: int, reduce_only: bool) -> None:
            """A GTC order that mostly rests: builds the depth that the other rules eat."""
            price = limit_price(self.pair, side == "buy", depth)
            self.pair.place(account, side, qty, price, "gtc", False, reduce_only, "expire_maker")

        @rule(account=st.sampled_from(ACCOUNTS), side=st.sampled_from(("buy", "sell")),
              qty=st.integers(*QTY), tif=st.sampled_from(TIFS), post_only=st.booleans(),
              reduce_only=reduce_only, stp=st.sampled_from(STPS))
        def market(self, account: str, side: str, qty: int, tif: str, post_only: bool,
                   reduce_only: bool, stp: str) -> None:
            self.pair.place(account, side, qty, None, tif, post_only, reduce_only, stp)

        @rule(pick=st.integers(0, PICKS - 1), account=st.sampled_from(ACCOUNTS),
              order_id=st.integers(1, 60))
        def cancel(self, pick: int, account: str, order_id: int) -> None:
            account, order_id, _ = pick_order(self.pair, pick, account, order_id)
            self.pair.cancel(account, order_id)

        @rule(pick=st.integers(0, PICKS - 1), account=st.sampled_from(ACCOUNTS),
              order_id=st.integers(1, 60), qty=st.none() | st.integers(*AMEND_QTY),
              depth=st.none() | st.integers(*DEPTHS))
        def amend(self, pick: int, account: str, order_id: int, qty: int | None,
                  depth: int | None) -> None:
            account, order_id, is_buy = pick_order(self.pair, pick, account, order_id)
            price = None if depth is None else limit_price(self.pair, is_buy, depth)
            self.pair.amend(account, order_id, qty, price)

        @rule(price=st.sampled_from(INDICES))
        def index(self, price: int) -> None:
            self.pair.index(price)

    return EngineVersusReference


HYPOTHESIS = settings(max_examples=200, stateful_step_count=100, deadline=None)

TestEngineVersusReference = make_machine(with_reduce_only=False).TestCase
TestEngineVersusReference.settings = HYPOTHESIS
TestEngineVersusReferenceReduceOnly = make_machine(with_reduce_only=True).TestCase
TestEngineVersusReferenceReduceOnly.settings = HYPOTHESIS


# -- the seeded long run ------------------------------------------------------------------------

COMMANDS = 5_000
BOOK_TARGET = 40


def random_step(pair: Pair, rng: random.Random, with_reduce_only: bool) -> None:
    """One command: 30 % a GTC order away from the touch (a cancel instead once the book holds
    BOOK_TARGET orders), 30 % any limit order, 7 % market, 8 % cancel, 17 % amend, 8 % index."""
    roll = rng.random()
    if roll < 0.30 and len(pair.ref.resting) >= BOOK_TARGET:
        roll = 0.70  # a cancel
    account, side = rng.choice(ACCOUNTS), rng.choice(("buy", "sell"))
    tif, stp = rng.choice(TIFS), rng.choice(STPS)
    reduce_only = with_reduce_only and rng.random() < 0.25
    if roll < 0.30:
        price = limit_price(pair, side == "buy", rng.randint(2, DEPTHS[1]))
        pair.place(account, side, rng.randint(*QTY), price, "gtc", False, reduce_only, stp)
    elif roll < 0.60:
        price = limit_price(pair, side == "buy", rng.randint(*DEPTHS))
        pair.place(account, side, rng.randint(*QTY), price, tif,
                   rng.random() < (0.3 if tif == "gtc" else 0.05), reduce_only, stp)
    elif roll < 0.67:
        pair.place(account, side, rng.randint(*QTY), None, tif, rng.random() < 0.05,
                   reduce_only, stp)
    elif roll < 0.75:
        account, order_id, _ = pick_order(pair, rng.randrange(PICKS), account,
                                          rng.randint(1, pair.ref.next_id))
        pair.cancel(account, order_id)
    elif roll < 0.92:
        account, order_id, is_buy = pick_order(pair, rng.randrange(PICKS), account,
                                               rng.randint(1, pair.ref.next_id))
        qty = rng.randint(*AMEND_QTY) if rng.random() < 0.7 else None
        depth = rng.randint(*DEPTHS) if qty is None or rng.random() < 0.5 else None
        price = None if depth is None else limit_price(pair, is_buy, depth)
        if rng.random() < 0.02:
            qty = price = None  # an amend that changes nothing is refused
        pair.amend(account, order_id, qty, price)
    else:
        pair.index(rng.choice(INDICES))


@pytest.mark.parametrize("with_reduce_only", [False, True], ids=["plain", "reduce_only"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_run_matches_reference(seed: int, with_reduce_only: bool) -> None:
    """Setup: as the module says; 5 000 seeded commands, compared after every one."""
    pair = Pair()
    rng = random.Random(seed)
    for _ in range(COMMANDS):
        random_step(pair, rng, with_reduce_only)
    assert pair.ref.next_id > COMMANDS // 4, "too few orders were accepted to mean anything"
