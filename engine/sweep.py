"""The mark sweep: which accounts may fail the margin test after a mark move, found with numpy.

Re-marking every position of a symbol in a Python loop costs about a microsecond a position;
a venue with a million open positions cannot do that on every mark. Here each symbol keeps its
positions as arrays (one row per holder), a mark move re-marks all of them in a few vector
operations (tier lookup by ``searchsorted``), cross accounts are summed over all their symbols
with ``bincount``, and only the rows whose margin is near or below maintenance come back as
candidates. The float64 screen only narrows the search: it is widened by a tolerance far above
its rounding error, and the exchange confirms each candidate with exact integer arithmetic.

The tables mirror the accounts. The exchange marks an account dirty whenever it changes its
wallet or positions, and the screen re-reads dirty accounts before each sweep, so the arrays
are never stale when they are used.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.account import Account
from engine.instrument import Instrument
from engine.units import RATE_SCALE

TOLERANCE = 1e-9
"""Relative width of the screen, against float64's 2e-16: candidates within it are checked."""
MINIMUM_SLACK = 1_000.0
"""Plus an absolute width of 1e-5 USDT (in cash units) for values near zero."""


class SymbolTable:
    """The open positions of one symbol, a row each, as arrays (rows are kept dense)."""

    def __init__(self, instrument: Instrument, capacity: int = 64) -> None:
        self.per_lot = float(instrument.cash_per_tick_lot)
        self.caps = np.array(instrument.tier_caps, dtype=np.float64)
        self.mmr = np.array([t.mmr for t in instrument.tiers], dtype=np.float64) / RATE_SCALE
        self.cum = np.array([t.cum for t in instrument.tiers], dtype=np.float64)
        self.rows: dict[str, int] = {}
        self.owners: list[str] = []
        self.account = np.zeros(capacity, dtype=np.int64)
        self.qty = np.zeros(capacity)
        self.cost = np.zeros(capacity)
        self.isolated = np.zeros(capacity, dtype=bool)
        self.isolated_margin = np.zeros(capacity)
        self.upnl = np.zeros(capacity)
        """Unrealized PnL of each row at ``self.mark``."""
        self.maintenance = np.zeros(capacity)
        self.mark: int | None = None

    @property
    def size(self) -> int:
        return len(self.owners)

    def remark(self, mark: int) -> None:
        """Unrealized PnL and maintenance margin of every row at ``mark``. O(n) vectorised."""
        self.mark = mark
        n = self.size
        qty, cost = self.qty[:n], self.cost[:n]
        value = qty * (mark * self.per_lot)
        notional = np.abs(value)
        tier = np.minimum(np.searchsorted(self.caps, notional, side="left"), len(self.caps) - 1)
        self.maintenance[:n] = notional * self.mmr[tier] - self.cum[tier]
        self.upnl[:n] = value - np.sign(qty) * cost

    def put(self, account_id: str, account_index: int, qty: int, cost: int, isolated: bool,
            isolated_margin: int) -> None:
        """Insert, update or (qty 0) remove the row of ``account_id``. O(1) amortised."""
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
        if self.mark is not None:  # keep the cached values of this row current
            value = qty * (self.mark * self.per_lot)
            notional = abs(value)
            tier = min(int(np.searchsorted(self.caps, notional, side="left")),
                       len(self.caps) - 1)
            self.maintenance[row] = notional * self.mmr[tier] - self.cum[tier]
            self.upnl[row] = value - np.sign(qty) * cost

    def _remove(self, row: int) -> None:
        """Swap the last row into ``row``: rows stay dense, order does not matter."""
        last = self.size - 1
        moved = self.owners[last]
        gone = self.owners[row]
        for array in (self.account, self.qty, self.cost, self.isolated, self.isolated_margin,
                      self.upnl, self.maintenance):
            array[row] = array[last]
        self.owners[row] = moved
        self.rows[moved] = row
        self.owners.pop()
        del self.rows[gone]

    def _grow(self) -> None:
        for name in ("account", "qty", "cost", "isolated", "isolated_margin", "upnl",
                     "maintenance"):
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros_like(array)]))


class MarginScreen:
    """Every symbol's table plus the accounts' wallets, kept in step with the exchange."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.tables = {symbol: SymbolTable(i) for symbol, i in instruments.items()}
        self.index: dict[str, int] = {}
        self.wallet = np.zeros(64)
        self.dirty: set[str] = set()

    def refresh(self, accounts: Mapping[str, Account]) -> None:
        """Re-read the accounts changed since the last sweep. O(changed accounts)."""
        for account_id in self.dirty:
            account = accounts[account_id]
            slot = self.index.get(account_id)
            if slot is None:
                slot = self.index[account_id] = len(self.index)
                if slot == len(self.wallet):
                    self.wallet = np.concatenate([self.wallet, np.zeros_like(self.wallet)])
            self.wallet[slot] = account.wallet
            for symbol, table in self.tables.items():
                position = account.positions.get(symbol)
                if position is None:
                    table.put(account_id, slot, 0, 0, False, 0)
                else:
                    table.put(account_id, slot, position.qty, position.cost, position.isolated,
                              position.isolated_margin)
        self.dirty.clear()

    def candidates(self, symbol: str, mark: int) -> list[str]:
        """Holders of ``symbol`` that may fail the margin test at ``mark`` (a superset of those
        that do). O(positions) vectorised."""
        table = self.tables[symbol]
        table.remark(mark)
        n = table.size
        if n == 0:
            return []
        slots = len(self.index)
        upnl = np.zeros(slots)
        maintenance = np.zeros(slots)
        scale = np.abs(self.wallet[:slots]).copy()
        for other in self.tables.values():
            m = other.size
            if m == 0:
                continue
            cross = ~other.isolated[:m]
            owner = other.account[:m][cross]
            upnl += np.bincount(owner, other.upnl[:m][cross], minlength=slots)
            maintenance += np.bincount(owner, other.maintenance[:m][cross], minlength=slots)
            scale += np.bincount(owner, np.abs(other.qty[:m][cross]) * other.per_lot
                                 * (other.mark or 0) + other.cost[:m][cross], minlength=slots)
        owner = table.account[:n]
        isolated = table.isolated[:n]
        own_scale = np.abs(table.qty[:n]) * (mark * table.per_lot) + table.cost[:n]
        slack = np.where(isolated,
                         table.isolated_margin[:n] + table.upnl[:n] - table.maintenance[:n],
                         self.wallet[owner] + upnl[owner] - maintenance[owner])
        width = TOLERANCE * np.where(isolated, own_scale + np.abs(table.isolated_margin[:n]),
                                     scale[owner]) + MINIMUM_SLACK
        return [table.owners[row] for row in np.flatnonzero(slack <= width)]


