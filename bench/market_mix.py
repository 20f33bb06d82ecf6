"""A seeded, replay-like mix of market activity: the yardstick for making the engine fast.

``build(seed, seconds, face=...)`` returns a list of engine commands drawn from
``random.Random(seed)``; ``run(commands)`` executes them through ``Exchange().execute`` and
returns counts and the final ``state_hash()``. The draws are the same for either face:

- ``face="units"`` (the default) drives the engine as a replay will (DESIGN.md §3.1): int-unit
  commands (engine/unit_commands.py), one ``MarketStep`` (the clock and every index) per
  simulated second, one ``ReplaceLadder`` per maker re-quote, and ``READ`` as the selected
  events (the acknowledgements it does not read are not built);
- ``face="wire"`` sends what a client of the wire sends: Decimal fields and RFC 3339 times,
  ``time`` then one ``index`` per symbol each second, a re-quote as ``cancel_all`` plus 10 limit
  orders, every event built. It is the "before" of the benchmark.

The workload, per simulated second from 2026-01-07T10:00:00Z (a Wednesday: metals are open):
- the clock and every symbol's index (BTCUSDT ~90 000, XAUUSDT ~4 450, XAGUSDT ~78.50, the
  default instruments) move: a small seeded random walk with rare jumps;
- 2 market makers per symbol re-quote 5 levels a side around the index every 5 s, the two
  staggered;
- one arbitrageur sends an IOC buy below the index and an IOC sell above it on every symbol:
  they trade only when stale quotes have drifted through the index, pulling the book back;
- 1 000 leveraged accounts (2x-50x) open with market orders in the first minute, 40 % of them
  with a stop-loss (stop_market, reduce_only); afterwards a few accounts a second exit (cancel
  their stop, close with a reduce-only market order) or enter again.

The builder never sees the engine, so some commands are refused (a reduce-only close of a
position that a stop or a liquidation already closed): that is part of the mix, and counted.
With the units face a post-only ladder that would cross the other maker's stale quotes is
refused whole; the maker then sends the same levels as limit orders (``Requote``), counted as
``bounced``.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Literal

from engine import Exchange
from engine import commands as c
from engine import unit_commands as u
from engine.enums import OrderType, RejectReason, Side, TimeInForce
from engine.events import Event, Fill, Liquidation, Rejected, Trade, Triggered
from engine.units import CASH_SCALE, NS_PER_SECOND

START = datetime(2026, 1, 7, 10, 0, 0, tzinfo=UTC)
START_NS = int(START.timestamp()) * NS_PER_SECOND
OPENING_SECONDS = 60
"""Accounts open their first positions in this window; the warm-up of the benchmark."""
ACCOUNTS = 1_000
REQUOTE_EVERY = 5
LEVELS = 5
Face = Literal["units", "wire"]
POST_ONLY_WOULD_TAKE = RejectReason.POST_ONLY_WOULD_TAKE
READ: tuple[type[Event], ...] = (Trade, Fill, Liquidation, Triggered, Rejected)
"""The events the mix reads (``execute_all`` counts them): the units face builds only these."""


@dataclass(frozen=True)
class Spec:
    symbol: str
    start: Decimal
    tick: Decimal
    lot: Decimal
    min_notional: Decimal
    max_leverage: int
    level_notional: tuple[int, int]
    """Notional of one maker level, USDT, drawn uniformly."""
    weight: float
    """Share of the leveraged accounts trading this symbol."""


def _specs() -> list[Spec]:
    text = resources.files("engine").joinpath("instruments.toml").read_text()
    table = {i["symbol"]: i for i in tomllib.loads(text, parse_float=Decimal)["instrument"]}

    def spec(symbol: str, start: str, level: tuple[int, int], weight: float) -> Spec:
        i = table[symbol]
        return Spec(symbol, Decimal(start), Decimal(i["tick_size"]), Decimal(i["lot_size"]),
                    Decimal(i["min_notional"]), int(i["tiers"][0]["max_leverage"]), level,
                    weight)

    return [spec("BTCUSDT", "90000", (40_000, 90_000), 0.5),
            spec("XAUUSDT", "4450", (40_000, 90_000), 0.25),
            spec("XAGUSDT", "78.50", (40_000, 80_000), 0.25)]


SPECS = _specs()
_BY_SYMBOL = {spec.symbol: spec for spec in SPECS}


def _ts(second: int) -> str:
    return (START + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the faces: one intent of the mix as the commands of a face ---------------------------------


@dataclass(frozen=True)
class Requote:
    """A maker's re-quote in engine units: the ``ladder``; if it is refused because a level
    would trade (post-only) against the other maker's stale quotes, the maker sends the same
    levels as plain limit orders (``fallback``: cancel_all + 10 limits), which take them, as
    the wire face's re-quote does. ``execute_all`` does this; it is one input of the mix."""

    ladder: u.ReplaceLadder
    fallback: tuple[u.UnitCommand, ...]


class _Units:
    """Engine units: ticks, lots, cash units, nanoseconds."""

    @staticmethod
    def step(second: int, index: dict[str, int]) -> list:
        return [u.MarketStep(ts=START_NS + second * NS_PER_SECOND, index=dict(index))]

    @staticmethod
    def deposit(account: str, usdt: int) -> list:
        return [u.Deposit(account=account, amount=usdt * CASH_SCALE)]

    @staticmethod
    def leverage(account: str, symbol: str, leverage: int) -> list:
        return [u.SetLeverage(account=account, symbol=symbol, leverage=leverage)]

    @staticmethod
    def quotes(maker: str, spec: Spec, bids: list[tuple[int, int]],
               asks: list[tuple[int, int]]) -> list:
        fallback = [u.CancelAll(account=maker, symbol=spec.symbol)] + [
            u.PlaceOrder(account=maker, symbol=spec.symbol, side=side, type=OrderType.LIMIT,
                         price=ticks, qty=lots)
            for side, levels in ((Side.BUY, bids), (Side.SELL, asks)) for ticks, lots in levels]
        return [Requote(u.ReplaceLadder(account=maker, symbol=spec.symbol, bids=tuple(bids),
                                        asks=tuple(asks)), tuple(fallback))]

    @staticmethod
    def place(account: str, spec: Spec, side: Side, kind: OrderType, lots: int,
              price: int | None = None, trigger: int | None = None,
              tif: TimeInForce = TimeInForce.GTC, reduce_only: bool = False) -> list:
        return [u.PlaceOrder(account=account, symbol=spec.symbol, side=side, type=kind,
                             qty=lots, price=price, trigger_price=trigger, tif=tif,
                             reduce_only=reduce_only)]

    @staticmethod
    def cancel_all(account: str, symbol: str) -> list:
        return [u.CancelAll(account=account, symbol=symbol)]


class _Wire:
    """Decimal fields and RFC 3339 times, as a client of the wire sends them."""

    @staticmethod
    def step(second: int, index: dict[str, int]) -> list:
        return [c.AdvanceTime(ts=_ts(second))] + [
            c.SetIndex(symbol=symbol, price=Decimal(ticks) * _BY_SYMBOL[symbol].tick)
            for symbol, ticks in index.items()]

    @staticmethod
    def deposit(account: str, usdt: int) -> list:
        return [c.Deposit(account=account, amount=Decimal(usdt))]

    @staticmethod
    def leverage(account: str, symbol: str, leverage: int) -> list:
        return [c.SetLeverage(account=account, symbol=symbol, leverage=leverage)]

    @staticmethod
    def quotes(maker: str, spec: Spec, bids: list[tuple[int, int]],
               asks: list[tuple[int, int]]) -> list:
        out: list = [c.CancelAll(account=maker, symbol=spec.symbol)]
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            out += [c.PlaceOrder(account=maker, symbol=spec.symbol, side=side,
                                 type=OrderType.LIMIT, price=Decimal(ticks) * spec.tick,
                                 qty=Decimal(lots) * spec.lot) for ticks, lots in levels]
        return out

    @staticmethod
    def place(account: str, spec: Spec, side: Side, kind: OrderType, lots: int,
              price: int | None = None, trigger: int | None = None,
              tif: TimeInForce = TimeInForce.GTC, reduce_only: bool = False) -> list:
        def decimal(ticks: int | None) -> Decimal | None:
            return None if ticks is None else Decimal(ticks) * spec.tick

        return [c.PlaceOrder(account=account, symbol=spec.symbol, side=side, type=kind,
                             qty=Decimal(lots) * spec.lot, price=decimal(price),
                             trigger_price=decimal(trigger), tif=tif, reduce_only=reduce_only)]

    @staticmethod
    def cancel_all(account: str, symbol: str) -> list:
        return [c.CancelAll(account=account, symbol=symbol)]


FACES = {"units": _Units, "wire": _Wire}


# -- the mix ------------------------------------------------------------------------------------


@dataclass
class _Trader:
    name: str
    spec: Spec
    leverage: int
    deposit: int
    open_side: Side | None = None
    lots: int = 0


@dataclass
class _Mix:
    rng: random.Random
    face: type[_Units] | type[_Wire]
    ticks: dict[str, int] = field(default_factory=dict)
    """Index of each symbol, in ticks."""

    def lots_for(self, spec: Spec, notional: float) -> int:
        """Lots worth about ``notional`` USDT at the index, at least the minimum notional."""
        index = float(Decimal(self.ticks[spec.symbol]) * spec.tick)
        floor = float(spec.min_notional) * 1.2
        return max(1, round(max(notional, floor) / index / float(spec.lot)))

    def walk(self, spec: Spec) -> None:
        ticks = self.ticks[spec.symbol]
        step = self.rng.gauss(0.0, 0.00025)  # 2.5 bp a second
        if self.rng.random() < 0.005:  # a jump of 1-2.5 %
            step += self.rng.choice((-1, 1)) * self.rng.uniform(0.01, 0.025)
        self.ticks[spec.symbol] = max(1, round(ticks * (1 + step)))

    def quotes(self, maker: str, spec: Spec) -> list:
        rng, index = self.rng, self.ticks[spec.symbol]
        ladder: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
        for is_buy in (True, False):
            for level in range(LEVELS):
                offset_bp = 2 + 3 * level + rng.random() * 2
                distance = max(1, round(index * offset_bp / 10_000))
                if ladder[is_buy]:  # one level a price: never inside the level before
                    distance = max(distance, abs(ladder[is_buy][-1][0] - index) + 1)
                ticks = index - distance if is_buy else index + distance
                ladder[is_buy].append(
                    (ticks, self.lots_for(spec, rng.uniform(*spec.level_notional))))
        return self.face.quotes(maker, spec, ladder[True], ladder[False])

    def entry(self, trader: _Trader, second: int, stops: dict[int, list]) -> list:
        rng, spec = self.rng, trader.spec
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        notional = trader.deposit * trader.leverage * rng.uniform(0.2, 0.6)
        lots = self.lots_for(spec, notional)
        trader.open_side, trader.lots = side, lots
        if rng.random() < 0.4:  # a stop-loss a second later, before the liquidation price
            index = self.ticks[spec.symbol]
            distance = max(2, round(index * rng.uniform(0.3, 0.7) / trader.leverage))
            is_buy = side is Side.BUY
            stops.setdefault(second + 1, []).extend(self.face.place(
                trader.name, spec, Side.SELL if is_buy else Side.BUY, OrderType.STOP_MARKET,
                lots, trigger=index - distance if is_buy else index + distance,
                reduce_only=True))
        return self.face.place(trader.name, spec, side, OrderType.MARKET, lots)

    def exit(self, trader: _Trader) -> list:
        assert trader.open_side is not None
        side = Side.SELL if trader.open_side is Side.BUY else Side.BUY
        trader.open_side = None
        return (self.face.cancel_all(trader.name, trader.spec.symbol)
                + self.face.place(trader.name, trader.spec, side, OrderType.MARKET, trader.lots,
                                  reduce_only=True))

    def arbitrage(self, spec: Spec) -> list:
        index = self.ticks[spec.symbol]
        edge = max(1, round(index * 0.0004))  # 4 bp through the index
        lots = self.lots_for(spec, 30_000)
        out: list = []
        for side in (Side.BUY, Side.SELL):
            out += self.face.place("arb", spec, side, OrderType.LIMIT, lots,
                                   price=index - edge if side is Side.BUY else index + edge,
                                   tif=TimeInForce.IOC)
        return out


def build(seed: int = 1, seconds: int = OPENING_SECONDS + 300, accounts: int = ACCOUNTS,
          face: Face = "units") -> list:
    """The commands of ``seconds`` simulated seconds of the mix (the first
    ``OPENING_SECONDS`` are the opening, where every account enters)."""
    rng = random.Random(seed)
    mix = _Mix(rng, FACES[face])
    f = mix.face
    for spec in SPECS:
        mix.ticks[spec.symbol] = round(spec.start / spec.tick)
    makers = {spec.symbol: [f"mm_{spec.symbol}_{n}" for n in range(2)] for spec in SPECS}
    out: list = f.step(0, mix.ticks)
    for spec in SPECS:
        for maker in makers[spec.symbol]:
            out += f.deposit(maker, 10**9) + f.leverage(maker, spec.symbol, 5)
    out += f.deposit("arb", 10**8)
    for spec in SPECS:
        out += f.leverage("arb", spec.symbol, 5)
    weights = [spec.weight for spec in SPECS]
    traders = []
    for n in range(accounts):
        spec = rng.choices(SPECS, weights)[0]
        trader = _Trader(f"t{n}", spec, rng.randint(2, min(50, spec.max_leverage)),
                         rng.randint(100, 2_000))
        traders.append(trader)
        out += f.deposit(trader.name, trader.deposit) + f.leverage(trader.name, spec.symbol,
                                                                   trader.leverage)
    openings: dict[int, list[_Trader]] = {}
    for trader in traders:
        openings.setdefault(rng.randint(1, OPENING_SECONDS - 1), []).append(trader)
    stops: dict[int, list] = {}
    for second in range(seconds):
        if second:
            for spec in SPECS:
                mix.walk(spec)
            out += f.step(second, mix.ticks)
        for spec in SPECS:
            for n, maker in enumerate(makers[spec.symbol]):
                if second % REQUOTE_EVERY == (2 * n) % REQUOTE_EVERY:
                    out += mix.quotes(maker, spec)
        if second:
            for spec in SPECS:
                out += mix.arbitrage(spec)
        out += stops.pop(second, [])
        for trader in openings.pop(second, []):
            out += mix.entry(trader, second, stops)
        if second >= OPENING_SECONDS:
            for _ in range(rng.choices((0, 1, 2, 3), (0.3, 0.3, 0.25, 0.15))[0]):
                trader = rng.choice(traders)
                out += (mix.exit(trader) if trader.open_side is not None
                        else mix.entry(trader, second, stops))
    return out


def split(commands: list, second: int) -> tuple[list, list]:
    """The commands before the clock reaches ``second``, and the rest."""
    ts, ns = _ts(second), START_NS + second * NS_PER_SECOND
    for n, command in enumerate(commands):
        if (type(command) is c.AdvanceTime and command.ts == ts
                or type(command) is u.MarketStep and command.ts == ns):
            return commands[:n], commands[n:]
    return commands, []


def requotes(commands: list) -> int:
    """The makers' re-quotes among ``commands``, in either face."""
    return sum(1 for command in commands if type(command) is Requote
               or type(command) is c.CancelAll and command.account.startswith("mm_"))


def face_of(commands: list) -> Face:
    return "wire" if commands and isinstance(commands[0], c.Command) else "units"


def new_exchange(face: Face) -> Exchange:
    """An exchange with the default instruments, building the events the face reads."""
    exchange = Exchange()
    if face == "units":
        exchange.select_events(READ)
    return exchange


def final_state(exchange: Exchange) -> tuple:
    """What the mix leaves, read through the views: per symbol (mark, last, open interest),
    and the insurance fund's balance."""
    return (tuple((symbol, view.mark, view.last, view.open_interest)
                  for symbol in exchange.instruments
                  for view in [exchange.view_symbol(symbol)]),
            exchange.view_insurance().balance)


@dataclass(frozen=True)
class Counts:
    commands: int
    events: int
    """The events built (with the units face: only the ``READ`` kinds)."""
    trades: int
    fills: int
    liquidations: int
    triggered: int
    rejected: int
    bounced: int
    """Re-quotes whose post-only ladder was refused and sent as limit orders (``Requote``)."""


@dataclass(frozen=True)
class Summary(Counts):
    state_hash: str


def execute_all(exchange: Exchange, commands: list) -> Counts:
    """Execute ``commands`` on ``exchange`` and count what happened."""
    execute = exchange.execute
    events = trades = fills = liquidations = triggered = rejected = bounced = 0
    for command in commands:
        if type(command) is Requote:
            out = execute(command.ladder)
            if out and type(out[0]) is Rejected and out[0].reason is POST_ONLY_WOULD_TAKE:
                bounced += 1
                out = [event for fallback in command.fallback for event in execute(fallback)]
        else:
            out = execute(command)
        for event in out:
            events += 1
            kind = type(event)
            if kind is Fill:
                fills += 1
            elif kind is Trade:
                trades += 1
            elif kind is Liquidation:
                liquidations += 1
            elif kind is Triggered:
                triggered += 1
            elif kind is Rejected:
                rejected += 1
    return Counts(len(commands), events, trades, fills, liquidations, triggered, rejected,
                  bounced)


def run(commands: list) -> Summary:
    """Execute ``commands`` on a new exchange; the counts and the final ``state_hash()``."""
    exchange = new_exchange(face_of(commands))
    counts = execute_all(exchange, commands)
    return Summary(**vars(counts), state_hash=exchange.state_hash())


if __name__ == "__main__":
    import sys
    import time

    for face in sys.argv[1:] or ["wire", "units"]:
        commands = build(face=face)  # type: ignore[arg-type]
        cpu, wall = time.process_time(), time.perf_counter()
        summary = run(commands)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(face, summary)
        seconds = OPENING_SECONDS + 300
        print(f"{face}: {seconds} simulated s in {cpu:.2f} CPU s / {wall:.2f} wall s: "
              f"{seconds / cpu:.1f} sim s per CPU s, {seconds / wall:.1f}x real time")
