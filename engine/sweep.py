"""The mark sweep: which accounts may fail the margin test after a mark move, found with numpy.

Re-marking every position of a symbol in a Python loop costs about a microsecond a position;
a venue with a million open positions cannot do that on every mark. Here each symbol keeps its
positions as arrays (one row per holder), a mark move re-marks all of them in a few vector
operations (tier lookup by ``searchsorted``), cross accounts' sums over all their symbols are
kept per account and moved by the change of the re-marked table only, and only the rows whose
margin is near or below maintenance come back as candidates. The float64 screen only narrows
the search: it is widened by a tolerance far above its rounding error, and the exchange
confirms each candidate with exact integer arithmetic.

Between two mark moves that nothing else separates, most sweeps find nothing, and a full sweep
works out how far each margin unit (an account's cross part, or one isolated position) is from
the test: its *radius*, the relative move of the marks it holds that cannot make it a candidate
(a position's PnL and maintenance margin move by at most ``2 x notional x move``, and a unit's
notionals sum to at most its ``scale``; a third of its headroom over its scale). The few units
nearest maintenance (``WATCHED``) are the table's *watch*; the least radius of the others is the
table's ``radius``, measured from the marks of that sweep (``anchor``). While every mark stays
within it, a sweep of the symbol re-marks nothing: it looks only at the watched units that the
move from the anchor reaches (each keeps its *reach*, its own radius as a move from the anchor),
re-checks those whose own marks moved beyond their own radius, each in Python floats at the
latest marks (the same arithmetic as the vector form, from the unit's rows), and names those
that come out at or below maintenance. The one near-maintenance holder that a book of leveraged
accounts always has costs a few microseconds a sweep, not a re-mark of every table.

An account re-read since that sweep is assessed from the sums the re-read works out, at the
marks its rows were just computed at: it joins the watch of each table it holds unless the
table's radius already covers it, that is unless its reach is at least that radius (a move
within ``r`` of the anchor stays within the unit's own ``r'`` of the marks it was assessed at
when ``r x anchor + |anchor - assessed| <= r' x assessed``, mark by mark). A watch that grows
beyond ``WATCH_LIMIT`` sends the table back to a full sweep, which picks it afresh; the table is
re-marked (and every table behind its latest mark caught up) only when a full sweep runs.

The tables mirror the accounts. The exchange marks an account dirty whenever it changes its
wallet or positions, and the screen re-reads dirty accounts before each sweep, so the arrays
are never stale when they are used (a row whose position did not change is not written).

Float drift: the per-account cross sums (margin = wallet + PnL - maintenance, and the scale
the tolerance is taken of) are moved by deltas, each adding at most a few ulps of the largest
value the sum held. An account whose rows change is re-summed exactly from its rows, and every
sum is rebuilt from scratch after ``RECOMPUTE_EVERY`` re-marks or when a table's mark leaves a
factor ``MARK_RANGE`` of its mark at the last rebuild. Within that window a sum's error is
below ``RECOMPUTE_EVERY x 3 x 2.2e-16 x MARK_RANGE^2`` (about 4e-11) of its scale, far inside
``TOLERANCE``. A watched unit's re-check is summed afresh, with no drift at all.
"""

from __future__ import annotations

import math
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
WATCHED = 8
"""Units nearest maintenance that a full sweep leaves on a table's watch."""
WATCH_LIMIT = 32
"""A watch this long (re-read accounts join it) is picked afresh by a full sweep."""

# The zips over a unit's legs and its marks, and over the tables and an anchor, pair lists
# built together, one item each: ``strict=False``, as strict's end check costs a sixth of a
# short zip on the path of every sweep.

_ROW_ARRAYS = ("account", "qty", "cost", "isolated", "isolated_margin", "upnl", "maintenance",
               "scale", "cross", "_value", "_notional", "_delta")


class Unit:
    """One margin unit as the watch re-checks it: an account's cross part (its wallet and
    every cross row) or one isolated position (its margin and its row), with the radius it
    was last assessed at."""

    __slots__ = ("wallet", "legs", "radius", "marks")

    def __init__(self, wallet: float, legs: tuple[tuple[SymbolTable, float, float], ...]) -> None:
        self.wallet = wallet
        """The cross wallet, or the isolated position's margin."""
        self.legs = legs
        """``(table, qty, cost)`` of each row the unit's margin counts."""
        self.radius = 0.0
        """At the last assessment: the relative move of each leg's mark that cannot make the
        unit a candidate; <= 0 when it was a candidate."""
        self.marks: tuple[int | None, ...] | None = None
        """The mark of each leg's table that assessment holds at (None: not assessed)."""

    def holds(self) -> bool:
        """Is the last assessment still good: no candidate then, every leg's mark since within
        the radius of its mark then? O(legs)."""
        marks, radius = self.marks, self.radius
        if marks is None or radius <= 0.0:
            return False
        for (table, _, _), mark in zip(self.legs, marks, strict=False):
            latest = table.latest
            if latest != mark and (mark is None or latest is None
                                   or abs(latest - mark) >= radius * mark):
                return False
        return True

    def settle(self, margin: float, scale: float, marks: tuple[int | None, ...]) -> None:
        """Take the radius of ``margin`` and ``scale``, the unit's sums at ``marks``."""
        headroom = margin - (TOLERANCE * scale + MINIMUM_SLACK)
        self.radius = headroom / scale / 3.0 if scale > 0.0 else headroom
        self.marks = marks

    def assess(self) -> None:
        """The radius at every leg's latest mark, summed afresh in Python floats: what a full
        sweep would compute for this unit's rows (``SymbolTable.row_values``). O(legs)."""
        margin = self.wallet
        scale = abs(margin)
        marks = []
        for table, qty, cost in self.legs:
            mark = table.latest
            marks.append(mark)
            upnl, maintenance, row_scale = table.row_values(qty, cost, mark)
            margin += upnl - maintenance
            scale += row_scale
        self.settle(margin, scale, tuple(marks))

    def reach_from(self, anchor: tuple[int | None, ...]) -> float:
        """The relative move of every mark from ``anchor`` (a table's) that keeps each of this
        unit's marks within its own radius of the marks it was assessed at (module
        docstring); 0 for a candidate. O(legs)."""
        radius, marks = self.radius, self.marks
        if marks is None or radius <= 0.0:
            return 0.0
        reach = radius
        for (leg, _, _), mark in zip(self.legs, marks, strict=False):
            base = anchor[leg.position]
            if base != mark:
                if base is None or mark is None:
                    return 0.0
                reach = min(reach, (radius * mark - abs(mark - base)) / base)
        return reach


class SymbolTable:
    """The open positions of one symbol, a row each, as arrays (rows are kept dense)."""

    def __init__(self, instrument: Instrument, capacity: int = 64,
                 screen: MarginScreen | None = None, position: int = 0) -> None:
        self.per_lot = float(instrument.cash_per_tick_lot)
        self.caps = np.array(instrument.tier_caps, dtype=np.float64)
        self.mmr = np.array([t.mmr for t in instrument.tiers], dtype=np.float64) / RATE_SCALE
        self.cum = np.array([t.cum for t in instrument.tiers], dtype=np.float64)
        self._caps, self._mmr, self._cum = self.caps.tolist(), self.mmr.tolist(), self.cum.tolist()
        """The same tier columns as Python floats, for one row at a time (``row_values``)."""
        self._top = len(self._caps) - 1
        self.screen = screen
        """The screen whose per-account cross sums this table's rows count in (or None)."""
        self.position = position
        """This table's place in the screen's table order (and in every ``anchor``)."""
        self.rows: dict[str, int] = {}
        self.owners: list[str] = []
        self.held: dict[str, tuple[int, int, bool, int]] = {}
        """``(qty, cost, isolated, isolated_margin)`` of each row as last written."""
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
        while full sweeps are skipped)."""
        self.base_mark: int | None = None
        """The mark at the screen's last rebuild from scratch."""
        self.radius = 0.0
        """After a full sweep: the relative move of every mark (from ``anchor``) that cannot
        make a holder outside the watch a candidate; 0: the next sweep is a full one."""
        self.anchor: tuple[int | None, ...] = ()
        """Every table's ``latest`` mark at that sweep (the screen's table order)."""
        self.watch: dict[str, tuple[float, Unit]] = {}
        """The holders the radius does not cover, by account id, with each one's reach (its
        ``Unit.reach_from`` this table's anchor): a sweep within the radius re-checks those
        the marks have moved as far as their reach."""
        self.watch_floor = math.inf
        """No watched reach is below it (the least when the watch was last walked; entries
        that left since may have raised the least): a drift below it re-checks nothing."""
        self.isolated_units: dict[str, Unit] = {}
        """The unit of each isolated row, by account id."""

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

    def row_values(self, qty: float, cost: float, mark: int | None) -> tuple[float, float, float]:
        """``(upnl, maintenance, scale)`` of one row at ``mark``, in Python floats: one row is
        too small for numpy's per-call cost, and float arithmetic on the same doubles gives
        exactly what ``remark`` gives (``(0, 0, cost)`` before the first mark)."""
        if mark is None:
            return 0.0, 0.0, cost
        value = qty * (mark * self.per_lot)
        notional = abs(value)
        tier = min(bisect_left(self._caps, notional), self._top)
        return (value - cost if qty > 0 else value + cost,
                notional * self._mmr[tier] - self._cum[tier], notional + cost)

    def put(self, account_id: str, account_index: int, qty: int, cost: int, isolated: bool,
            isolated_margin: int) -> tuple[float, float, float]:
        """Insert or update the row of ``account_id`` (qty not 0); return its ``row_values``
        at ``self.mark``. A row that did not change is not written. O(1) amortised. The
        screen's sums for the account are not moved: ``MarginScreen`` does that."""
        key = (qty, cost, isolated, isolated_margin)
        values = self.row_values(float(qty), float(cost), self.mark)
        old = self.held.get(account_id)
        if old == key:
            return values  # the arrays hold these already (``remark`` keeps them current)
        self.held[account_id] = key
        row = self.rows.get(account_id)
        if row is None:
            row = self.size
            if row == len(self.qty):
                self._grow()
            self.rows[account_id] = row
            self.owners.append(account_id)
            self.account[row] = account_index
            old = (None, None, None, None)
        # only the columns that changed: a fill moves qty and cost, little else
        if old[0] != qty:
            self.qty[row] = qty
        if old[1] != cost:
            self.cost[row] = cost
        if old[2] != isolated:
            self.isolated[row] = isolated
            self.cross[row] = 0.0 if isolated else 1.0
        if old[3] != isolated_margin:
            self.isolated_margin[row] = isolated_margin
        self.upnl[row], self.maintenance[row], self.scale[row] = values
        return values

    def drop(self, account_id: str) -> None:
        """Remove the row of ``account_id`` (its position closed). O(1)."""
        row = self.rows[account_id]
        del self.held[account_id]
        self.watch.pop(account_id, None)
        self.isolated_units.pop(account_id, None)
        last = self.size - 1
        if row != last:  # swap the last row in: rows stay dense
            moved = self.owners[last]
            for array in (self.account, self.qty, self.cost, self.isolated, self.isolated_margin,
                          self.upnl, self.maintenance, self.scale, self.cross):
                array[row] = array[last]
            self.owners[row] = moved
            self.rows[moved] = row
        self.owners.pop()
        del self.rows[account_id]

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
        self.tables = {symbol: SymbolTable(i, screen=self, position=k)
                       for k, (symbol, i) in enumerate(instruments.items())}
        self._order = list(self.tables.values())
        """The tables in the order of every anchor (read on every sweep)."""
        self._pairs = list(self.tables.items())
        self.index: dict[str, int] = {}
        self.wallet = np.zeros(64)
        self.margin = np.zeros(64)
        self.scale = np.zeros(64)
        self.cross_units: dict[str, Unit] = {}
        """The cross part of each account that holds a cross row, by account id."""
        self.dirty: set[str] = set()
        self.remarks = 0
        """Re-marks since the last rebuild of the sums from scratch."""

    def refresh(self, accounts: Mapping[str, Account]) -> None:
        """Re-read the accounts changed since the last sweep. O(changed accounts)."""
        for account_id in self.dirty:
            self._reread(account_id, accounts[account_id])
        self.dirty.clear()

    def _slot(self, account_id: str) -> int:
        slot = self.index.get(account_id)
        if slot is None:
            slot = self.index[account_id] = len(self.index)
            if slot == len(self.wallet):
                for name in ("wallet", "margin", "scale"):
                    array = getattr(self, name)
                    setattr(self, name, np.concatenate([array, np.zeros_like(array)]))
        return slot

    def _reread(self, account_id: str, account: Account) -> None:
        """The account's rows, its cross sums exactly from them (in table order, as
        ``rebuild`` adds them), its units, and its place on each table's watch. O(symbols)."""
        slot = self._slot(account_id)
        wallet = account.wallet
        self.wallet[slot] = wallet
        margin = float(wallet)
        scale = abs(margin)
        positions = account.positions
        legs: list[tuple[SymbolTable, float, float]] = []
        marks: list[int | None] = []
        for symbol, table in self._pairs:
            position = positions.get(symbol)
            if position is None or position.qty == 0:
                if account_id in table.rows:
                    table.drop(account_id)
                continue
            qty, cost, isolated = position.qty, position.cost, position.isolated
            upnl, maintenance, row_scale = table.put(account_id, slot, qty, cost, isolated,
                                                     position.isolated_margin)
            if isolated:
                self._reread_isolated(table, account_id, position.isolated_margin,
                                      upnl - maintenance, row_scale)
                continue
            if table.isolated_units:
                table.isolated_units.pop(account_id, None)
            margin += upnl - maintenance
            scale += row_scale
            legs.append((table, float(qty), float(cost)))
            marks.append(table.mark)
        self.margin[slot], self.scale[slot] = margin, scale
        if not legs:
            self.cross_units.pop(account_id, None)
            return
        # assessed at the marks its rows were just computed at: the sums above are its own
        unit = self.cross_units[account_id] = Unit(float(wallet), tuple(legs))
        unit.settle(margin, scale, tuple(marks))
        for table, _, _ in legs:
            self._note_fresh(table, account_id, unit)

    def _reread_isolated(self, table: SymbolTable, account_id: str, isolated_margin: int,
                         pnl: float, row_scale: float) -> None:
        """The unit of an isolated row just put, and its place on the table's watch."""
        qty, cost = table.held[account_id][:2]
        margin = float(isolated_margin)
        unit = table.isolated_units[account_id] = Unit(margin, ((table, float(qty), float(cost)),))
        unit.settle(margin + pnl, row_scale + abs(margin), (table.mark,))
        self._note_fresh(table, account_id, unit)

    @staticmethod
    def _note_fresh(table: SymbolTable, account_id: str, unit: Unit) -> None:
        """Put a re-read unit on ``table``'s watch unless the table's radius covers it
        (module docstring)."""
        if table.radius <= 0.0:  # the next sweep is a full one: it picks the watch afresh
            table.watch.pop(account_id, None)
            return
        reach = unit.reach_from(table.anchor)
        if reach >= table.radius:
            table.watch.pop(account_id, None)
            return
        table.watch[account_id] = (reach, unit)
        if reach < table.watch_floor:
            table.watch_floor = reach
        if len(table.watch) > WATCH_LIMIT:
            table.radius = 0.0

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
        that do). O(watched) while the last full sweep's radius holds (module docstring),
        else O(positions of ``symbol``) vectorised."""
        table = self.tables[symbol]
        table.latest = mark
        if table.size == 0:
            table.remark(mark)
            return []
        if table.radius > 0.0:
            drift = self._drift(table)
            if drift < table.radius:
                return self._recheck(table, drift)
        return self._sweep(table)

    @staticmethod
    def _recheck(table: SymbolTable, drift: float) -> list[str]:
        """The watched holders that may fail now, the marks having moved ``drift`` from the
        table's anchor: each one the drift reaches is assessed again if the marks it holds
        have left its own radius. O(1) when the drift reaches none, else O(watched)."""
        if drift < table.watch_floor:
            return []
        found = []
        watch = table.watch
        for account_id, (reach, unit) in watch.items():
            if reach > drift or unit.holds():
                continue
            unit.assess()
            if unit.radius <= 0.0:
                found.append(account_id)
            watch[account_id] = (unit.reach_from(table.anchor), unit)
        table.watch_floor = min([reach for reach, _ in watch.values()], default=math.inf)
        return found

    def _sweep(self, table: SymbolTable) -> list[str]:
        """The full sweep: every table re-marked at its latest mark, every holder of
        ``table`` screened, and its watch and radius picked afresh. O(positions)."""
        for other in self._order:  # the sums count every table at its latest mark
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
        headroom /= scale
        headroom /= 3.0
        table.anchor = tuple(other.latest for other in self._order)
        self._pick_watch(table, headroom)
        return [table.owners[row] for row in rows]

    def _pick_watch(self, table: SymbolTable, radii: np.ndarray) -> None:
        """Watch the ``WATCHED`` holders of least radius (each unit keeps the radius the sweep
        found for it, at the marks of the anchor); the table's radius is the least of the
        rest's (0 if that is a candidate too: the next sweep is a full one)."""
        n = len(radii)
        if n <= WATCHED:
            watched, table.radius = range(n), math.inf
        else:
            order = radii.argpartition(WATCHED)
            watched, table.radius = order[:WATCHED].tolist(), max(float(radii[order[WATCHED]]), 0.0)
        watch: dict[str, tuple[float, Unit]] = {}
        owners, isolated = table.owners, table.isolated
        floor = math.inf
        for row in watched:
            account_id = owners[row]
            unit = (table.isolated_units if isolated[row] else self.cross_units)[account_id]
            unit.radius = radius = float(radii[row])
            unit.marks = tuple(leg.latest for leg, _, _ in unit.legs)
            reach = max(radius, 0.0)
            watch[account_id] = (reach, unit)
            if reach < floor:
                floor = reach
        table.watch, table.watch_floor = watch, floor

    def _drift(self, table: SymbolTable) -> float:
        """How far every mark has moved from its mark at the table's anchor: the largest
        relative move (inf if a mark appeared or went). O(symbols)."""
        drift = 0.0
        for other, anchor in zip(self._order, table.anchor, strict=False):
            latest = other.latest
            if latest != anchor:
                if anchor is None or latest is None:
                    return math.inf
                move = abs(latest - anchor) / anchor
                if move > drift:
                    drift = move
        return drift
