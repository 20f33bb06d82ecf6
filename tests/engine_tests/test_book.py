"""The book's structure: compaction of dead entries, spare levels, the walk best first; book +
matching against a list-scan book (hypothesis) and against the floor matcher of
bench/compare.py on seeded random streams."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import engine.book as book_module
from bench.compare import run_floor, run_perpsim, workload_b, workload_c
from engine.book import COMPACT_SLACK, Order, OrderBook
from engine.enums import OrderType, Side, StpMode
from engine.errors import InvariantViolation
from engine.matching import fillable, match


def order(oid: int, price: int, side: Side = Side.SELL) -> Order:
    return Order(order_id=oid, account=f"a{oid}", symbol="X", side=side, type=OrderType.LIMIT,
                 qty=1, price=price)


def test_cancelled_orders_do_not_pile_up_behind_a_live_one():
    book = OrderBook("X")
    book.add(order(0, 100))
    level = book.best_level(Side.SELL)
    longest = 0
    for oid in range(1, 20_001):
        placed = order(oid, 100)
        book.add(placed)
        book.remove(placed)
        longest = max(longest, len(level.orders))
    assert longest <= 2 + 2 * 1 + COMPACT_SLACK
    assert level.count == 1 and level.front().order_id == 0
    book.check_invariants()


def test_best_levels_follow_adds_and_removes():
    book = OrderBook("X")
    orders = [order(i, 100 + i) for i in range(5)]
    for o in orders:
        book.add(o)
    assert book.best_ask() == 100
    book.remove(orders[0])
    assert book.best_ask() == 101
    assert [lv.price for lv in book.levels(Side.SELL)] == [101, 102, 103, 104]
    assert book.depth(Side.SELL, 2) == [(101, 1), (102, 1)]
    book.check_invariants()


@pytest.mark.parametrize("seed", range(5))
def test_book_and_matching_agree_with_the_floor(seed):
    for workload in (workload_b(5_000, seed), workload_c(2_000, seed)):
        assert run_perpsim(workload) == run_floor(workload)


# -- the ladder against a list scan, on paths the seeded workloads rarely take: prices far
# apart (the sorted walk past long gaps), spare levels dropped in bulk, the best moving across
# empty and stale ticks, compaction, self-trade prevention --


class NaiveBook:
    """Resting orders in a list; the best is a scan for price, then queue time."""

    def __init__(self) -> None:
        self.resting: list[list] = []  # [order_id, account, is_buy, price, remaining, time]
        self.clock = 0

    def priority(self, entry: list) -> tuple[int, int]:
        return (-entry[3] if entry[2] else entry[3], entry[5])

    def side(self, is_buy: bool) -> list[list]:
        return sorted((e for e in self.resting if e[2] == is_buy), key=self.priority)

    def levels(self, is_buy: bool) -> list[tuple[int, int, list[int]]]:
        out: dict[int, tuple[int, list[int]]] = {}
        for e in self.side(is_buy):
            qty, ids = out.get(e[3], (0, []))
            out[e[3]] = (qty + e[4], ids + [e[0]])
        return [(price, qty, ids) for price, (qty, ids) in out.items()]

    def add(self, order_id: int, account: str, is_buy: bool, price: int, qty: int) -> None:
        self.clock += 1
        self.resting.append([order_id, account, is_buy, price, qty, self.clock])

    def cancel(self, order_id: int) -> None:
        self.resting = [e for e in self.resting if e[0] != order_id]

    def match(self, account: str, is_buy: bool, limit: int, qty: int, stp: StpMode,
              log: list) -> tuple[int, bool]:
        filled = 0
        while filled < qty:
            makers = self.side(not is_buy)
            if not makers or (makers[0][3] > limit if is_buy else makers[0][3] < limit):
                break
            maker = makers[0]
            if maker[1] == account:
                if stp is not StpMode.EXPIRE_TAKER:
                    self.resting.remove(maker)
                    log.append(("stp", maker[0]))
                if stp is not StpMode.EXPIRE_MAKER:
                    return filled, True
                continue
            size = min(qty - filled, maker[4])
            maker[4] -= size
            filled += size
            if maker[4] == 0:
                self.resting.remove(maker)
            log.append(("fill", maker[0], maker[3], size))
        return filled, False


MID = 1_000_000
OFFSETS = st.one_of(st.integers(-2, 6),  # dense around the mid; a negative offset crosses
                    st.integers(7, 200_000))  # sparse: long gaps between levels
OPS = st.lists(st.one_of(
    st.tuples(st.just("limit"), st.integers(0, 3), st.booleans(), OFFSETS, st.integers(1, 6),
              st.sampled_from(list(StpMode))),
    st.tuples(st.just("market"), st.integers(0, 3), st.booleans(), st.integers(1, 30),
              st.sampled_from(list(StpMode))),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("burst"), OFFSETS, st.integers(1, 60)),  # place + cancel at one ask
), min_size=30, max_size=150)


@pytest.mark.parametrize("spare_slack", [0, 3, book_module.SPARE_SLACK])
@given(ops=OPS)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_ladder_agrees_with_a_list_scan(spare_slack, ops):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book_module, "SPARE_SLACK", spare_slack)
        book, naive = OrderBook("X"), NaiveBook()
        next_id = 0
        for op in ops:
            got: list = []
            want: list = []
            if op[0] == "cancel":
                resting = sorted(book.orders)
                if resting:
                    order_id = resting[op[1] % len(resting)]
                    book.remove(book.orders[order_id])
                    naive.cancel(order_id)
            elif op[0] == "burst":
                _, offset, count = op
                price = MID + offset
                for _ in range(count):
                    next_id += 1
                    placed = Order(order_id=next_id, account="burst", symbol="X",
                                   side=Side.SELL, type=OrderType.LIMIT, qty=1, price=price)
                    if not book.would_cross(False, price):
                        book.add(placed)
                        book.remove(placed)
            else:
                kind, who, is_buy, *rest = op
                next_id += 1
                account = f"a{who}"
                if kind == "limit":
                    offset, qty, stp = rest
                    price = limit = MID - offset if is_buy else MID + offset
                else:
                    qty, stp = rest
                    price, limit = None, (1 << 62) if is_buy else -(1 << 62)
                taker = Order(order_id=next_id, account=account, symbol="X",
                              side=Side.BUY if is_buy else Side.SELL,
                              type=OrderType.LIMIT if price else OrderType.MARKET,
                              qty=qty, price=price, stp=stp)
                expired = match(book, taker, limit,
                                lambda m, p, q, got=got: got.append(("fill", m.order_id, p, q)),
                                lambda m, got=got: got.append(("stp", m.order_id)))
                filled, naive_expired = naive.match(account, is_buy, limit, qty, stp, want)
                assert (taker.filled, expired) == (filled, naive_expired)
                if price is not None and not expired and taker.remaining:
                    book.add(taker)
                    naive.add(next_id, account, is_buy, price, taker.remaining)
            assert got == want
            book.check_invariants()
            for side, is_buy in ((Side.BUY, True), (Side.SELL, False)):
                levels = [(lv.price, lv.qty, [o.order_id for o in lv.live_orders()])
                          for lv in book.levels(side)]
                assert levels == naive.levels(is_buy)
                assert book.depth(side, 3) == [(p, q) for p, q, _ in levels[:3]]
                assert len(book.bids if is_buy else book.asks) == len(levels)
            assert book.best_bid() == next((p for p, _, _ in naive.levels(True)), None)
            assert book.best_ask() == next((p for p, _, _ in naive.levels(False)), None)


def test_levels_walk_past_a_gap_longer_than_the_heap():
    """Three asks a million ticks apart: the walk gives up scanning ticks and sorts."""
    book = OrderBook("X")
    for oid, price in enumerate((5, 1_000_005, 2_000_005, 6)):
        book.add(order(oid, price))
    assert [lv.price for lv in book.levels(Side.SELL)] == [5, 6, 1_000_005, 2_000_005]
    book.check_invariants()


def test_spare_levels_are_dropped_once_they_outnumber_the_occupied_ones():
    book = OrderBook("X")
    book.add(order(0, 1))
    for oid in range(1, 5 * book_module.SPARE_SLACK):
        placed = order(oid, 10 + oid)
        book.add(placed)
        book.remove(placed)
        assert len(book.asks.by_price) <= 2 * 1 + book_module.SPARE_SLACK + 1
    assert len(book.asks) == 1 and book.best_ask() == 1
    book.check_invariants()


def book_with_pooled_levels() -> OrderBook:
    """One ask resting, and enough levels opened and emptied beside it to drop the spares."""
    book = OrderBook("X")
    book.add(order(0, 1))
    for oid in range(1, book_module.SPARE_SLACK + 2):
        placed = order(oid, 10 + oid)
        book.add(placed)
        book.remove(placed)
    return book


def test_dropped_levels_are_re_used_for_new_prices():
    """A level dropped as a spare is re-keyed for the next new price, empty and unranked."""
    book = book_with_pooled_levels()
    pooled = list(book.asks._pool)
    assert pooled and all(not lv.ranked and not lv.count for lv in pooled)
    taken = pooled[-1]
    book.add(order(10_000, 5_000))
    assert book.asks.by_price[5_000] is taken and taken.price == 5_000 and taken.count == 1
    assert [lv.price for lv in book.levels(Side.SELL)] == [1, 5_000]
    book.check_invariants()


@pytest.mark.parametrize("corrupt", ["count", "ranked", "listed"])
def test_a_pooled_level_in_use_is_an_invariant_violation(corrupt):
    book = book_with_pooled_levels()
    level = book.asks._pool[0]
    if corrupt == "count":
        level.count = 1
    elif corrupt == "ranked":
        level.ranked = True
    else:
        book.asks._pool.append(book.asks.by_price[1])
    with pytest.raises(InvariantViolation, match="pooled level"):
        book.check_invariants()


def test_a_taker_skips_the_cancelled_entries_at_the_front_of_a_level():
    book = OrderBook("X")
    first, second = order(1, 100), order(2, 100)
    book.add(first)
    book.add(second)
    book.remove(first)  # dead, still at the front of the deque
    fills: list = []
    taker = Order(order_id=3, account="t", symbol="X", side=Side.BUY, type=OrderType.MARKET,
                  qty=2, price=None)
    match(book, taker, 1 << 62, lambda m, p, q: fills.append((m.order_id, p, q)),
          lambda m: None)
    assert fills == [(2, 100, 1)] and taker.filled == 1
    assert book.best_ask() is None and not book.asks.heap
    book.check_invariants()


def test_the_dry_run_stops_at_the_level_that_completes_the_order(monkeypatch):
    """``fillable`` (every market order's margin check) does not ask the walk for the level
    after the one that fills it: past a moving market's gaps, that next level costs a walk
    over empty ticks."""
    book = OrderBook("X")
    for oid, price in enumerate((100, 140, 190), start=1):
        book.add(order(oid, price))
    walked: list[int] = []
    walk = book_module.BookSide.__iter__

    def counted(side):
        for level in walk(side):
            walked.append(level.price)
            yield level

    monkeypatch.setattr(book_module.BookSide, "__iter__", counted)
    assert fillable(book, True, 1 << 62, 2, "t", StpMode.EXPIRE_MAKER, lambda _: 0) == (2, 140)
    assert walked == [100, 140]
    walked.clear()
    assert fillable(book, True, 1 << 62, 5, "t", StpMode.EXPIRE_MAKER, lambda _: 0) == (3, 190)
    assert walked == [100, 140, 190]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(99, 101), st.booleans(), st.booleans()),
                         max_size=3 * COMPACT_SLACK), min_size=1, max_size=6))
@example([[(100, False, n < 30) for n in range(40)]])  # 30 of 40 at one level: compacted
def test_adds_and_removes_leave_the_levels_a_list_of_the_live_orders_would(rounds):
    """Rounds of quotes on both sides (bids below 100, asks above), each round taking out the
    older half of the live orders and its own flagged ones, as a ladder's replaces do: the
    levels, best first, hold exactly the live orders in arrival order with their totals and
    queue numbers (a plain list is the model), and the book's invariants hold (best levels
    emptied and levels compacted included)."""
    book = OrderBook("X")
    live: list[Order] = []  # the model: every resting order, in arrival order
    queued: dict[int, int] = {}
    oid = 0
    for quotes in rounds:
        placed = []
        for price, is_buy, _ in quotes:
            oid += 1
            placed.append(order(oid, price - 6 if is_buy else price + 6,
                                Side.BUY if is_buy else Side.SELL))
        gone = live[:len(live) // 2] + [
            o for o, (_, _, leaves) in zip(placed, quotes, strict=True) if leaves]
        for o in placed:
            book.add(o)
            queued[o.order_id] = len(queued) + 1
        for o in gone:
            book.remove(o)
        live = [o for o in live + placed if o not in gone]
        for side, best_first in ((Side.BUY, -1), (Side.SELL, 1)):
            prices = sorted({o.price for o in live if o.side is side},
                            key=lambda p: best_first * p)
            expected = [(p, sum(o.remaining for o in live if o.side is side and o.price == p),
                         [(o.order_id, queued[o.order_id]) for o in live
                          if o.side is side and o.price == p]) for p in prices]
            assert [(lv.price, lv.qty, [(o.order_id, o.queued) for o in lv.live_orders()])
                    for lv in book.levels(side)] == expected
        book.check_invariants()
