"""Snapshots: the whole engine state as bytes, and back (DESIGN.md §5).

Pure encoding; engine/journal.py writes the bytes and decides when. ``load(dump(x))`` behaves
exactly as ``x``: the same further commands give byte-identical events.

JSON, not msgpack: sums of cash units can pass 2**64, which msgpack cannot hold, and msgspec
reads and writes JSON ints of any size exactly. Fractions are [numerator, denominator] pairs,
Decimals their strings. The bytes are deterministic: fields in a fixed order, dicts and lists
in the engine's own insertion order (part of the state: cancel-all walks orders in it), sets
sorted. Between commands an open order rests in its book or waits in ``conditional``, so it is
stored once, under its account, with its queue stamp; the books and the numpy margin screen
are rebuilt, not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated

import msgspec

from engine.account import Account, Position
from engine.book import Order, OrderBook
from engine.enums import OrderType, Side, StpMode, TimeInForce, TriggerBy
from engine.exchange import INSURANCE, Exchange
from engine.instrument import Instrument

SNAPSHOT_VERSION = 2
"""Bump on any change of the layout below; ``load`` refuses every other version. (2: the
off-hours EWMA is an integer over 2^96 ticks, no longer a decimal string.)"""
FORMAT = "perpsim-snapshot"


class SnapshotError(ValueError):
    """Not a snapshot this version can load, or other instruments; the message says which."""


class _Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A part of the file; field names are the engine objects' attribute names."""


class _Order(_Record):
    order_id: int
    symbol: str
    side: Side
    type: OrderType
    """After a trigger fired: the limit or market type it became."""
    qty: int
    filled: int
    price: int | None
    trigger_price: int | None
    trigger_by: TriggerBy | None
    tif: TimeInForce
    post_only: bool
    reduce_only: bool
    client_id: str | None
    stp: StpMode
    live: bool
    """Resting in its book; otherwise waiting for its trigger."""
    queued: int
    """The book's queue stamp (time priority)."""


class _Position(_Record):
    symbol: str
    qty: int
    cost: int
    isolated: bool
    isolated_margin: int


class _Account(_Record):
    id: str
    wallet: int
    deposited: int
    withdrawn: int
    realized_pnl: int
    fees_paid: int
    funding_pnl: int
    liquidation_transfers: int
    isolated_symbols: list[str]
    leverage: dict[str, int]
    positions: list[_Position]
    orders: list[_Order]
    """``client_ids`` is rebuilt from these."""


class _Symbol(_Record):
    instrument: Instrument
    """The whole specification: loading with a different one is refused."""
    index: int | None
    mark: int | None
    last: int | None
    queued: int
    """The book's queue counter: the next resting order gets the stamp after it."""
    conditional: list[int]
    """Order ids waiting for their trigger, in the order they are checked."""
    basis: list[tuple[int, Annotated[int, msgspec.Meta(gt=0)]]]
    premium: tuple[int, int, int]
    """Samples, their weighted sum and the sum of weights (``PremiumAverage.state()``)."""
    funding_rate: int
    ewma: tuple[str | None, int]
    """The off-hours average as the digits of an integer over 2^EWMA_BITS ticks (None before
    the first sample), and its time (``Ewma.state()``)."""


class _Header(msgspec.Struct):
    format: str
    version: int


class _Snapshot(_Header, _Record):
    now: int
    seq: int
    next_order_id: int
    next_trade_id: int
    fee_income: int
    rounding: int
    backstop: int
    deposits: int
    withdrawals: int
    symbols: list[_Symbol]
    insurance: _Account
    accounts: list[_Account]


_COUNTERS = ("now", "seq", "next_order_id", "next_trade_id", "fee_income", "rounding",
             "backstop", "deposits", "withdrawals")
_LEDGER = ("wallet", "deposited", "withdrawn", "realized_pnl", "fees_paid", "funding_pnl",
           "liquidation_transfers")
_encoder = msgspec.json.Encoder()


def dump(exchange: Exchange) -> bytes:
    """The state of ``exchange``, between commands, as bytes: equal states, equal bytes."""
    symbols = []
    for symbol, instrument in exchange.instruments.items():
        prices = exchange.prices[symbol]
        symbols.append(_Symbol(
            instrument=instrument, index=exchange.index[symbol], mark=exchange.mark[symbol],
            last=exchange.last[symbol], queued=exchange.books[symbol]._queued,
            conditional=list(exchange.conditional[symbol]),
            basis=[(v.numerator, v.denominator) for v in prices.basis.window_values()],
            premium=prices.premium.state()[1:], funding_rate=prices.funding_rate,
            ewma=prices.off_hours.state()))
    return _encoder.encode(_Snapshot(
        format=FORMAT, version=SNAPSHOT_VERSION, symbols=symbols,
        insurance=_dump_account(exchange.insurance),
        accounts=[_dump_account(a) for a in exchange.accounts.values()],
        **{name: getattr(exchange, name) for name in _COUNTERS}))


def _dump_account(account: Account) -> _Account:
    return _Account(
        id=account.id, isolated_symbols=sorted(account.isolated_symbols),
        leverage=dict(account.leverage),
        positions=[_Position(s, p.qty, p.cost, p.isolated, p.isolated_margin)
                   for s, p in account.positions.items()],
        orders=[_Order(**{f: getattr(o, f) for f in _Order.__struct_fields__})
                for o in account.orders.values()],
        **{name: getattr(account, name) for name in _LEDGER})


def load(data: bytes, instruments: Mapping[str, Instrument]) -> Exchange:
    """Build the exchange a snapshot describes; check_invariants() has passed on it.

    Args:
        data: bytes from ``dump``.
        instruments: the instruments to run with; they must equal the snapshot's. The exchange
            lists them in the snapshot's order, which decides the order of events.

    Raises:
        SnapshotError: the bytes are truncated or corrupt, of another snapshot version, or
            describe an inconsistent state; or the instruments do not match.
    """
    try:
        header = msgspec.json.decode(data, type=_Header)
    except (msgspec.DecodeError, TypeError) as exc:
        raise SnapshotError(f"not a readable perpsim snapshot: {exc}") from None
    if header.format != FORMAT:
        raise SnapshotError(f"not a perpsim snapshot: format is {header.format!r}")
    if header.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {header.version} is not supported; this "
                            f"perpsim reads version {SNAPSHOT_VERSION}")
    try:
        snapshot = msgspec.json.decode(data, type=_Snapshot)
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"corrupt snapshot: {exc}") from None
    exchange = Exchange(_match_instruments(snapshot.symbols, instruments))
    try:  # a well-formed file can still hold a state the engine cannot be in (a flipped digit)
        _restore(exchange, snapshot)
        exchange.check_invariants()
    except SnapshotError as exc:
        raise SnapshotError(f"inconsistent snapshot: {exc}") from None
    except (AssertionError, ArithmeticError, KeyError, ValueError, TypeError) as exc:
        raise SnapshotError(f"inconsistent snapshot: {type(exc).__name__}: {exc}") from exc
    return exchange


def _match_instruments(saved: list[_Symbol], given: Mapping[str, Instrument]
                       ) -> dict[str, Instrument]:
    names = [s.instrument.symbol for s in saved]
    missing, extra = set(names) - set(given), set(given) - set(names)
    if missing or extra or len(set(names)) != len(names):
        raise SnapshotError(f"the snapshot lists {', '.join(names)}; the instruments given "
                            f"lack {', '.join(sorted(missing)) or 'none'} and add "
                            f"{', '.join(sorted(extra)) or 'none'}")
    for entry in saved:
        theirs, mine = entry.instrument, given[entry.instrument.symbol]
        # compared as encoded: Decimal("0.10") == Decimal("0.1"), but they print differently
        for field in theirs.__struct_fields__:
            old, new = (_encoder.encode(getattr(i, field, None)).decode() for i in (theirs, mine))
            if old != new:
                raise SnapshotError(f"{theirs.symbol}: {field} is {old} in the snapshot but "
                                    f"{new} in the instruments given")
    return {name: given[name] for name in names}


def _restore(exchange: Exchange, snapshot: _Snapshot) -> None:
    for name in _COUNTERS:
        setattr(exchange, name, getattr(snapshot, name))
    fund = snapshot.insurance
    if fund.id != INSURANCE or fund.orders:  # the fund's orders are IOC: none stays open
        raise SnapshotError(f"insurance fund {fund.id!r} with {len(fund.orders)} open orders")
    orders: dict[int, Order] = {}
    symbols = set(exchange.instruments)
    exchange.insurance = _restore_account(fund, orders, symbols)
    for record in snapshot.accounts:
        if record.id in exchange.accounts or record.id == INSURANCE:
            raise SnapshotError(f"account {record.id!r} is listed twice")
        exchange.accounts[record.id] = _restore_account(record, orders, symbols)
    if orders and max(orders) >= snapshot.next_order_id:
        raise SnapshotError(f"order {max(orders)} is not below next_order_id")
    for entry in snapshot.symbols:
        symbol = entry.instrument.symbol
        exchange.index[symbol], exchange.mark[symbol] = entry.index, entry.mark
        exchange.last[symbol] = entry.last
        prices = exchange.prices[symbol]
        prices.basis.restore([Fraction(n, d) for n, d in entry.basis])
        prices.premium.restore(*entry.premium)
        prices.funding_rate = entry.funding_rate
        prices.off_hours.restore(*entry.ewma)
        waiting = exchange.conditional[symbol]
        for order_id in entry.conditional:
            order = orders.get(order_id)
            if order is None or order.symbol != symbol or order.live or order_id in waiting \
                    or order.trigger_price is None or order.trigger_by is None:
                raise SnapshotError(f"{symbol}: {order_id} is not an order waiting to trigger")
            waiting[order_id] = order
        _rebuild_book(exchange.books[symbol], entry.queued,
                      [o for o in orders.values() if o.live and o.symbol == symbol])
    # the screen mirrors the accounts at each symbol's current mark: a table is re-marked
    # whenever its symbol's mark moves, and a row's cached PnL counts in every sweep
    exchange.recount_open_interest()
    exchange.screen.dirty.update(exchange.accounts)
    exchange.screen.refresh(exchange.accounts)
    for symbol, mark in exchange.mark.items():
        if mark is not None:
            exchange.screen.tables[symbol].remark(mark)


def _restore_account(record: _Account, orders: dict[int, Order], symbols: set[str]) -> Account:
    held = [p.symbol for p in record.positions]
    unknown = {*held, *record.leverage, *record.isolated_symbols,
               *(o.symbol for o in record.orders)} - symbols
    if unknown or len(set(held)) != len(held):
        raise SnapshotError(f"{record.id}: unknown symbols {sorted(unknown)} or a position "
                            "listed twice")
    account = Account(record.id)
    for name in _LEDGER:
        setattr(account, name, getattr(record, name))
    account.isolated_symbols = set(record.isolated_symbols)
    account.leverage = dict(record.leverage)
    for p in record.positions:
        position = account.positions[p.symbol] = Position(p.isolated)
        position.qty, position.cost, position.isolated_margin = p.qty, p.cost, p.isolated_margin
    for o in record.orders:
        if o.order_id in orders:
            raise SnapshotError(f"order {o.order_id} is listed twice")
        fields = msgspec.structs.asdict(o)
        state = {name: fields.pop(name) for name in ("filled", "live", "queued")}
        order = orders[o.order_id] = Order(account=record.id, **fields)
        for name, value in state.items():
            setattr(order, name, value)  # live is cleared again before the book re-adds it
        account.add_order(order)  # a duplicate client id fails check_invariants
    return account


def _rebuild_book(book: OrderBook, queued: int, resting: list[Order]) -> None:
    """Re-add the resting orders in stamp order: a level's queue is in stamp order (``add``
    appends with a rising stamp), and so is the book's order index."""
    stamps = {order.queued for order in resting}
    if len(stamps) != len(resting) or any(not 0 < stamp <= queued for stamp in stamps):
        raise SnapshotError(f"{book.symbol}: queue stamps {sorted(stamps)}, counter {queued}")
    for order in sorted(resting, key=lambda o: o.queued):
        stamp, order.live = order.queued, False
        book.add(order)
        order.queued = stamp
    book._queued = queued
