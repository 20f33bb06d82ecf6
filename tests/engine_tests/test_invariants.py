"""Each clause of ``check_invariants`` fires on the corruption it guards against."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import START, Venue

from engine import unit_commands as u
from engine.errors import InvariantViolation
from engine.exchange import Exchange


def busy() -> Venue:
    """Silver with a maker's book, a long and a short, a reduce-only order and a stop, and an
    isolated long."""
    v = Venue()
    v("time", ts=START)
    v("index", symbol="XAGUSDT", price="78.50")
    for name in ("mm", "long", "short"):
        v("deposit", account=name, amount="100000")
    for side, price in (("buy", "78.40"), ("sell", "78.60"), ("buy", "78.30")):
        v("place", account="mm", symbol="XAGUSDT", side=side, type="limit", qty="50",
          price=price, client_id=f"q{price}")
    v("place", account="long", symbol="XAGUSDT", side="buy", type="market", qty="5")
    v("place", account="short", symbol="XAGUSDT", side="sell", type="market", qty="5")
    v("place", account="long", symbol="XAGUSDT", side="sell", type="limit", qty="5",
      price="80.00", reduce_only=True)
    v("place", account="short", symbol="XAGUSDT", side="buy", type="stop_market", qty="5",
      trigger_price="81.00", reduce_only=True)
    v("deposit", account="iso", amount="1000")
    v("margin_mode", account="iso", symbol="XAGUSDT", mode="isolated")
    v("place", account="iso", symbol="XAGUSDT", side="buy", type="market", qty="1")
    return v


def negative_wallet(ex: Exchange, account: str) -> None:
    """The account's wallet one unit below zero, its ledger moved with it (so that only the
    wallet clause can see it)."""
    holder = ex.accounts[account]
    holder.deposited -= holder.wallet + 1
    holder.wallet = -1


def negative_isolated_margin(ex: Exchange) -> None:
    """The open isolated position's margin one unit below zero, the wallet holding the rest of
    the account's cash (cash, ledger and money unchanged)."""
    holder = ex.accounts["iso"]
    position = holder.positions["XAGUSDT"]
    assert position.qty and position.isolated
    holder.wallet += position.isolated_margin + 1
    position.isolated_margin = -1


def resting(ex: Exchange, account: str):
    return next(o for o in ex.accounts[account].orders.values() if o.live)


def swept(ex: Exchange):
    """The silver table of the margin screen after a mark move: every account re-read (none
    dirty), the watch picked."""
    ex.execute(u.SetIndex(symbol="XAGUSDT", price=7851))
    assert not ex.screen.dirty
    table = ex.screen.tables["XAGUSDT"]
    assert table.watch and {"long", "short", "iso"} <= set(table.rows)
    return table


def stale_screen_wallet(ex: Exchange) -> None:
    swept(ex)
    ex.screen.wallet[ex.screen.index["long"]] += 1


def row_of_an_idle_account(ex: Exchange) -> None:
    ex.execute(u.Deposit(account="idle", amount=10**8))
    swept(ex).rows["idle"] = 0


def stale_screen_row(ex: Exchange) -> None:
    table = swept(ex)
    table.qty[table.rows["long"]] += 1


def raised_watch_floor(ex: Exchange) -> None:
    table = swept(ex)
    table.watch_floor = max(reach for reach, _ in table.watch.values()) + 1.0


CORRUPTIONS: list[tuple[str, Callable[[Exchange], None]]] = [
    ("cash != its ledger", lambda ex: setattr(ex.accounts["mm"], "deposited", 1)),
    ("reduce-only index is stale", lambda ex: ex.accounts["long"].reducing.clear()),
    ("reduce-only exceeds position", lambda ex: setattr(
        ex.accounts["long"].positions["XAGUSDT"], "qty", 4_000)),
    ("open interest total is stale", lambda ex: ex.open_interest.update(XAGUSDT=1)),
    ("wrong level or side", lambda ex: setattr(resting(ex, "mm"), "price", 99_00)),
    ("not listed under its trigger", lambda ex: setattr(
        next(iter(ex.conditional["XAGUSDT"].values())), "trigger_price", 8200)),
    ("money is not conserved", lambda ex: setattr(ex, "fee_income", ex.fee_income + 1)),
    # no wallet and no isolated margin below zero, open positions or not
    ("long: negative wallet", lambda ex: negative_wallet(ex, "long")),
    ("iso: negative wallet", lambda ex: negative_wallet(ex, "iso")),
    ("iso XAGUSDT: negative isolated margin", negative_isolated_margin),
    # the check after fills finds isolated positions through the account's isolated symbols
    ("iso XAGUSDT: the position's margin mode is not the account's",
     lambda ex: ex.accounts["iso"].isolated_symbols.clear()),
    # the margin screen mirrors every account it will not re-read
    ("long: the screen's wallet is stale", stale_screen_wallet),
    ("idle XAGUSDT: the screen holds a closed position", row_of_an_idle_account),
    ("long XAGUSDT: missing from the screen", lambda ex: swept(ex).rows.pop("long")),
    ("long XAGUSDT: the screen's row is stale", stale_screen_row),
    ("XAGUSDT: a watched reach is below the watch's floor", raised_watch_floor),
]


def test_the_busy_venue_holds_every_invariant():
    busy().exchange.check_invariants()


@pytest.mark.parametrize("match, corrupt", CORRUPTIONS, ids=[m for m, _ in CORRUPTIONS])
def test_each_invariant_can_fire(match, corrupt):
    ex = busy().exchange
    corrupt(ex)
    with pytest.raises(InvariantViolation, match=match):
        ex.check_invariants()
