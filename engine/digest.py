"""The state digest: everything that decides future behaviour, in a fixed order.

``canonical_state`` is plain lists, ints of any size, strings, bools and None; ``state_hash``
is the blake2b of its repr, so equal states give equal hashes.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from engine.enums import Side

if TYPE_CHECKING:
    from engine.exchange import Exchange


def canonical_state(exchange: Exchange) -> list[Any]:
    """Everything that decides future behaviour, in a fixed order (for ``state_hash``)."""
    books = []
    for symbol, book in exchange.books.items():
        sides = []
        for side in (Side.BUY, Side.SELL):
            sides.append([[level.price, [o.order_id for o in level.live_orders()]]
                          for level in book.levels(side)])
        terms = exchange.instruments[symbol]  # funding terms can change (SetFundingTerms)
        books.append([symbol, sides, exchange.index[symbol], exchange.mark[symbol],
                      exchange.last[symbol], list(exchange.conditional[symbol]),
                      exchange.prices[symbol].state(), terms.funding_interval_ns,
                      terms.funding_cap])
    accounts = []
    for account in [exchange.insurance] + [exchange.accounts[a] for a in sorted(exchange.accounts)]:
        accounts.append([
            account.id, account.wallet, account.deposited, account.withdrawn,
            account.realized_pnl, account.fees_paid, account.funding_pnl,
            account.liquidation_transfers, sorted(account.isolated_symbols),
            sorted([s, p.qty, p.cost, p.isolated, p.isolated_margin]
                   for s, p in account.positions.items()),
            sorted(account.leverage.items()),
            [[o.order_id, o.symbol, o.side.value, o.type.value, o.qty, o.filled, o.price,
              o.trigger_price, None if o.trigger_by is None else o.trigger_by.value,
              o.tif.value, o.post_only, o.reduce_only, o.client_id, o.stp.value]
             for o in account.orders.values()],
        ])
    return [exchange.now, exchange.seq, exchange.next_order_id, exchange.next_trade_id,
            exchange.fee_income, exchange.rounding, exchange.backstop, exchange.deposits,
            exchange.withdrawals, books, accounts]


def state_hash(exchange: Exchange) -> str:
    """A digest of the whole state: equal states give equal hashes (blake2b of the repr of
    the canonical state: lists, ints of any size, strings, bools and None only)."""
    return hashlib.blake2b(repr(canonical_state(exchange)).encode(),
                           digest_size=16).hexdigest()
