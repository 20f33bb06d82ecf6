"""The mark sweep: which accounts may fail the margin test after a mark move, found with numpy.

Re-marking every position of a symbol in a Python loop costs about a microsecond a position;
a venue with a million open positions cannot do that on every mark. Here each symbol keeps its
positions as arrays (one row per holder), a mark move re-marks all of them in a few vector
operations (tier lookup by ``searchsorted``), cross accounts' sums over all their symbols are
kept per account and moved by the change of the re-marked table only, and only the rows whose
margin is near or below maintenance come back as candidates. The float64 screen only narrows
the search: it is widened by a tolerance far above its rounding error, and the exchange
confirms each candidate with exact integer arithmetic.

Between two mark moves that nothing else separates, most sweeps find nothing: a full sweep of a
symbol also records how far every mark may move before any of its holders could come near
maintenance (``SymbolTable.radius``, a relative move: a position's PnL and maintenance margin
move by at most ``2 x notional x move``, and an account's notionals sum to at most its
``scale``). An account re-read since that sweep is no longer covered by it: the re-read works
out the same radius for that account alone, at the marks its rows were just computed at, and
narrows the table's radius to what keeps every mark within it (a move within ``r'`` of the
sweep's marks stays within ``r`` of the re-read's marks when ``r' x sweep <= r x reread -
|sweep - reread|``, mark by mark). While every mark stays within that radius of the marks of
that sweep, the sweep of the symbol returns no candidate without re-marking its table; the
table is re-marked (and every table behind its latest mark caught up) when a sweep does run.

The tables mirror the accounts. The exchange marks an account dirty whenever it changes its
wallet or positions, and the screen re-reads dirty accounts before each sweep, so the arrays
are never stale when they are used.

Float drift: the per-account cross sums (margin = wallet + PnL - maintenance, and the scale
the tolerance is taken of) are moved by deltas, each adding at most a few ulps of the largest
value the sum held. An account whose rows change is re-summed exactly from the tables, and every
sum is rebuilt from scratch after ``RECOMPUTE_EVERY`` re-marks or when a table's mark leaves a
factor ``MARK_RANGE`` of its mark at the last rebuild. Within that window a sum's error is
below ``RECOMPUTE_EVERY x 3 x 2.2e-16 x MARK_RANGE^2`` (about 4e-11) of its scale, far inside
``TOLERANCE``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

from engine.account import Account
from engine.instrument import Instrument
from engine.units import RATE_SCALE

TOLERANCE = 1e-9
"""Relative width of the screen, against float64's 2e-16: candidates within it are checked."""
MINIMUM_SLACK = 1_000.0
"""Plus an absolute width of 1e-5 USDT (in cash units) for values near zero."""
RECOMPUTE_EVERY = 256
"""Re-marks between two rebuilds of the per-account cross sums from scratch."""
MARK_RANGE = 16.0
"""A mark this many times above or below the one at the last rebuild forces a rebuild."""

_ROW_ARRAYS = ("account", "qty", "cost", "isolated", "isolated_margin", "upnl", "maintenance",
               "scale", "cross", "_value", "_notional", "_delta")


class SymbolTable:
    """The open positions of one symbol, a row each, as arrays (rows are kept dense)."""

    def __init__(self, instrument: Instrument, capacity: int = 64,
                 screen: MarginScreen | None = None) -> None:
        self.per_lot = float(instrument.cash_per_tick_lot)
        self.caps = np.array(instrument.tier_caps, dtype=np.float64)
        self.mmr = np.array([t.mmr for t in instrument.tiers], dtype=np.float64) / RATE_SCALE
        self.cum = np.array([t.cum for t in instrument.tiers], dtype=np.float64)
        self._caps, self._mmr, self._cum = self.caps.tolist(), self.mmr.tolist(), self.cum.tolist()
        """The same tier columns as Python floats, for one row at a time (``put``)."""
        self.screen = screen
        """The screen whose per-account cross sums this table's rows count in (or None)."""
        self.rows: dict[str, int] = {}
        self.owners: list[str] = []
        self.account = np.zeros(capacity, dtype=np.int64)
        self.qty = np.zeros(capacity)
        self.cost = np.zeros(capacity)
        self.isolated = np.zeros(capacity, dtype=bool)
        self.isolated_margin = np.zeros(capacity)
        self.upnl = np.zeros(capacity)
        """Unrealized PnL of each row at ``self.mark`` (0 before the first mark)."""
        self.maintenance = np.zeros(capacity)
        self.scale = np.zeros(capacity)
        """``|notional| + cost`` of each row: what the tolerance is a fraction of."""
        self.cross = np.zeros(capacity)
        """1.0 for a cross row, 0.0 for an isolated one: the weight of its delta in the sums."""
        self._value = np.zeros(capacity)
        self._notional = np.zeros(capacity)
        self._delta = np.zeros(capacity)
        self.mark: int | None = None
        """The mark the rows' PnL and maintenance margin are computed at."""
        self.latest: int | None = None
        """The last mark this table was swept or re-marked at (``mark`` can lag behind it
        while sweeps are skipped)."""
        self.base_mark: int | None = None
        """The mark at the screen's last rebuild from scratch."""
        self.radius = 0.0
        """After a full sweep that found no candidate: the relative move of every mark (from
        ``anchor``) that cannot make one of this table's holders a candidate; 0 otherwise."""
        self.anchor: tuple[int | None, ...] = ()
        """Every table's ``latest`` mark at that sweep (the screen's table order)."""

    @property
    def size(self) -> int:
        return len(self.owners)

    def remark(self, mark: int) -> None:
        """Unrealized PnL and maintenance margin of every row at ``mark``, and the screen's
        cross sums moved by the change. O(n) vectorised, no allocation beyond the tier index."""
        self.mark = self.latest = mark
        n = self.size
        if n == 0:
            return
        qty, cost = self.qty[:n], self.cost[:n]
        upnl, maintenance, scale = self.upnl[:n], self.maintenance[:n], self.scale[:n]
        value, notional, delta = self._value[:n], self._notional[:n], self._delta[:n]
        np.subtract(upnl, maintenance, out=delta)  # the old margin contribution
        np.multiply(qty, mark * self.per_lot, out=value)
        np.abs(value, out=notional)
        tier = self.caps.searchsorted(notional, side="left")
        np.minimum(tier, len(self.caps) - 1, out=tier)
        np.multiply(notional, self.mmr[tier], out=maintenance)
        maintenance -= self.cum[tier]
        np.sign(qty, out=upnl)
        upnl *= cost
        np.subtract(value, upnl, out=upnl)
        screen = self.screen
        if screen is None:
            np.add(notional, cost, out=scale)
            return
        owner, cross = self.account[:n], self.cross[:n]
        np.subtract(delta, upnl, out=delta)
        delta += maintenance
        delta *= cross  # minus the change of each cross row's margin
        screen.margin[owner] -= delta  # owners are distinct within a table
        np.add(notional, cost, out=value)  # the new scale
        np.subtract(value, scale, out=delta)
        delta *= cross
        screen.scale[owner] += delta
        scale[:] = value
        screen.updated(self)

    def put(self, account_id: str, account_index: int, qty: int, cost: int, isolated: bool,
            isolated_margin: int) -> None:
        """Insert, update or (qty 0) remove the row of ``account_id``. O(1) amortised. The
        screen's sums for the account are not moved: ``MarginScreen.resum`` does that."""
        row = self.rows.get(account_id)
        if qty == 0:
            if row is not None:
                self._remove(row)
            return
        if row is None:
            row = self.size
            if row == len(self.qty):
                self._grow()
            self.rows[account_id] = row
            self.owners.append(account_id)
        self.account[row] = account_index
        self.qty[row], self.cost[row] = qty, cost
        self.isolated[row], self.isolated_margin[row] = isolated, isolated_margin
        self.cross[row] = 0.0 if isolated else 1.0
        if self.mark is None:
            self.upnl[row] = self.maintenance[row] = 0.0
            self.scale[row] = cost
        else:  # keep the cached values of this row current
            # in Python floats: one row is too small for numpy's per-call cost, and float
            # arithmetic on the same doubles gives what the vector form gives
            value = qty * (self.mark * self.per_lot)
            notional = abs(value)
            tier = min(bisect_left(self._caps, notional), len(self._caps) - 1)
            self.maintenance[row] = notional * self._mmr[tier] - self._cum[tier]
            self.upnl[row] = value - cost if qty > 0 else value + cost
            self.scale[row] = notional + cost

    def _remove(self, row: int) -> None:
        """Swap the last row into ``row``: rows stay dense, order does not matter."""
        last = self.size - 1
        moved = self.owners[last]
        gone = self.owners[row]
        for name in _ROW_ARRAYS[:-3]:
            array = getattr(self, name)
            array[row] = array[last]
        self.owners[row] = moved
        self.rows[moved] = row
        self.owners.pop()
        del self.rows[gone]

    def _grow(self) -> None:
        for name in _ROW_ARRAYS:
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros_like(array)]))


class MarginScreen:
    """Every symbol's table plus the accounts' wallets, kept in step with the exchange.

    Per account slot it also keeps the cross sums over all symbols: ``margin`` (wallet plus
    the cross rows' PnL minus their maintenance) and ``scale`` (``|wallet|`` plus the cross
    rows' scale)."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.tables = {symbol: SymbolTable(i, screen=self) for symbol, i in instruments.items()}
        self._order = list(self.tables.values())
        """The tables in the order of every anchor (read on every sweep)."""
        self.index: dict[str, int] = {}
        self.wallet = np.zeros(64)
        self.margin = np.zeros(64)
        self.scale = np.zeros(64)
        self.dirty: set[str] = set()
        self.remarks = 0
        """Re-marks since the last rebuild of the sums from scratch."""

    def refresh(self, accounts: Mapping[str, Account]) -> None:
        """Re-read the accounts changed since the last sweep. O(changed accounts)."""
        for account_id in self.dirty:
            account = accounts[account_id]
            slot = self.index.get(account_id)
            if slot is None:
                slot = self.index[account_id] = len(self.index)
                if slot == len(self.wallet):
                    for name in ("wallet", "margin", "scale"):
                        array = getattr(self, name)
                        setattr(self, name, np.concatenate([array, np.zeros_like(array)]))
            self.wallet[slot] = account.wallet
            for symbol, table in self.tables.items():
                position = account.positions.get(symbol)
                if position is None:
                    table.put(account_id, slot, 0, 0, False, 0)
                else:
                    table.put(account_id, slot, position.qty, position.cost, position.isolated,
                              position.isolated_margin)
            self.resum(account_id, slot)
            self._note_fresh(account_id, slot)
        self.dirty.clear()

    def _note_fresh(self, account_id: str, slot: int) -> None:
        """Narrow the radius of each table that holds a re-read account (module docstring):
        to what ``candidates`` would find for its rows alone, at the marks they were just
        computed at, moved to the marks of the table's last sweep. O(symbols^2)."""
        marks: list[int | None] | None = None
        for table in self.tables.values():
            row = table.rows.get(account_id)
            if row is None or table.radius <= 0.0:
                continue
            if marks is None:
                marks = [other.mark for other in self.tables.values()]
            if table.isolated[row]:
                margin = float(table.isolated_margin[row])
                slack = margin + float(table.upnl[row]) - float(table.maintenance[row])
                scale = float(table.scale[row]) + abs(margin)
            else:
                slack, scale = float(self.margin[slot]), float(self.scale[slot])
            headroom = slack - (TOLERANCE * scale + MINIMUM_SLACK)
            own = headroom / scale / 3.0 if headroom > 0.0 else 0.0
            radius = own
            for base, mark in zip(table.anchor, marks, strict=True):
                if radius <= 0.0:
                    break
                if mark != base:
                    radius = (0.0 if base is None or mark is None
                              else min(radius, (own * mark - abs(mark - base)) / base))
            if radius < table.radius:
                table.radius = max(radius, 0.0)

    def resum(self, account_id: str, slot: int) -> None:
        """The cross sums of one account, exactly from its rows. O(symbols)."""
        wallet = float(self.wallet[slot])
        margin, scale = wallet, abs(wallet)
        for table in self.tables.values():
            row = table.rows.get(account_id)
            if row is not None and not table.isolated[row]:
                margin += float(table.upnl[row]) - float(table.maintenance[row])
                scale += float(table.scale[row])
        self.margin[slot], self.scale[slot] = margin, scale

    def rebuild(self) -> None:
        """Every account's cross sums from scratch. O(positions)."""
        slots = len(self.index)
        wallet = self.wallet[:slots]
        margin = wallet.copy()
        scale = np.abs(wallet)
        for table in self.tables.values():
            m = table.size
            table.base_mark = table.mark
            if m == 0:
                continue
            cross = ~table.isolated[:m]
            owner = table.account[:m][cross]
            margin += np.bincount(owner, (table.upnl[:m] - table.maintenance[:m])[cross],
                                  minlength=slots)
            scale += np.bincount(owner, table.scale[:m][cross], minlength=slots)
        self.margin[:slots], self.scale[:slots] = margin, scale
        self.remarks = 0

    def updated(self, table: SymbolTable) -> None:
        """After ``table`` moved the sums by a re-mark: rebuild them when the drift bound of
        the module docstring would no longer hold."""
        self.remarks += 1
        base, mark = table.base_mark, table.mark
        if (self.remarks >= RECOMPUTE_EVERY or base is None or base <= 0 or mark is None
                or not base / MARK_RANGE <= mark <= base * MARK_RANGE):
            self.rebuild()

    def candidates(self, symbol: str, mark: int) -> list[str]:
        """Holders of ``symbol`` that may fail the margin test at ``mark`` (a superset of those
        that do). O(1) while the last full sweep's radius holds (module docstring), else
        O(positions of ``symbol``) vectorised."""
        table = self.tables[symbol]
        table.latest = mark
        if table.size == 0:
            table.remark(mark)
            return []
        if table.radius > 0.0 and self._within(table):
            return []
        for other in self.tables.values():  # the sums count every table at its latest mark
            if other.mark != other.latest and other.latest is not None:
                other.remark(other.latest)
        n = table.size
        owner = table.account[:n]
        isolated = table.isolated[:n]
        if isolated.any():
            slack = np.where(isolated,
                             table.isolated_margin[:n] + table.upnl[:n] - table.maintenance[:n],
                             self.margin[owner])
            scale = np.where(isolated, table.scale[:n] + np.abs(table.isolated_margin[:n]),
                             self.scale[owner])
        else:  # what np.where would pick from: the cross sums (method calls: no wrappers)
            slack = self.margin.take(owner)
            scale = self.scale.take(owner)
        headroom = slack - (TOLERANCE * scale + MINIMUM_SLACK)
        rows = (headroom <= 0).nonzero()[0]
        # a move of m (relative) costs a holder at most 2 m of its scale: a third of the least
        # headroom over scale is a move no holder can become a candidate within
        table.radius = float((headroom / scale).min()) / 3.0 if len(rows) == 0 else 0.0
        table.anchor = tuple(other.latest for other in self.tables.values())
        return [table.owners[row] for row in rows]

    def _within(self, table: SymbolTable) -> bool:
        """Has every mark stayed within ``table.radius`` of its mark at the table's anchor?"""
        radius = table.radius
        for other, anchor in zip(self._order, table.anchor, strict=True):
            latest = other.latest
            if latest != anchor and (anchor is None or latest is None
                                     or abs(latest - anchor) >= radius * anchor):
                return False
        return True
