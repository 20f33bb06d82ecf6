"""Snapshots (engine/snapshot.py): a loaded exchange is indistinguishable from the original.

"Indistinguishable" is tested by behaviour, not by the state hash alone: after a snapshot the
original and the loaded copy run the same further commands and must give byte-identical
events, equal state hashes and equal snapshot bytes (which also cover what the hash leaves
out: queue stamps, insertion orders).

- Golden sessions: a snapshot at every line boundary, the rest of the session run on both.
- Random risky streams (the generators of test_stateful_risk.py: liquidations, ADL, funding,
  triggers, isolated margin): a seeded loop and a hypothesis state machine take snapshots at
  random steps and run every later command on the original and on the copy.
- Determinism: ``dump(load(dump(x))) == dump(x)``; ints beyond 64 bits survive.
- Bad input: truncated, random and mutated bytes, another version, other instruments all
  raise ``SnapshotError`` with a message that says what is wrong, never another exception.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import START, Venue, names
from hypothesis import settings
from hypothesis.stateful import rule
from test_stateful_risk import (
    GENERATORS,
    INSTRUMENTS,
    SYMBOLS,
    RandomPick,
    Risk,
    RiskMachine,
    _FixedSymbol,
    gen_quote,
)

from engine import Exchange, default_instruments, parse_instruments
from engine.protocol import EventWriter, decode_command, run
from engine.snapshot import SNAPSHOT_VERSION, SnapshotError, dump, load

GOLDEN = Path(__file__).parent / "golden"
SESSIONS = Path(__file__).parents[2] / "scenarios" / "data" / "sessions"
INPUTS = sorted(GOLDEN.glob("*.in.jsonl")) + sorted(SESSIONS.glob("*.jsonl"))


def rest_of_session(exchange: Exchange, lines: list[bytes], start: int) -> list[bytes]:
    """Events of ``lines[start:]``; blank lines in front keep the line numbers of errors."""
    return list(run(exchange, [b""] * start + lines[start:]))


def final_state(source: Path) -> Exchange:
    exchange = Exchange()
    list(run(exchange, source.read_bytes().splitlines()))
    return exchange


# -- golden sessions ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", INPUTS, ids=lambda p: p.name.removesuffix(".jsonl"))
def test_a_snapshot_at_any_line_continues_like_the_original(source: Path) -> None:
    """Setup: the session cut at every line boundary (every 5th past 60 lines); the copy is
    loaded with freshly parsed default instruments, as after a restart."""
    lines = source.read_bytes().splitlines()
    for cut in range(0, len(lines) + 1, 1 if len(lines) <= 60 else 5):
        original = Exchange()
        list(run(original, lines[:cut]))
        data = dump(original)
        copy = load(data, default_instruments())
        where = f"{source.name} cut before line {cut + 1}"
        assert copy.state_hash() == original.state_hash(), where
        assert dump(copy) == data, where
        assert rest_of_session(copy, lines, cut) == rest_of_session(original, lines, cut), where
        assert copy.state_hash() == original.state_hash(), where
        assert dump(copy) == dump(original), where


@pytest.mark.parametrize("source", INPUTS, ids=lambda p: p.name.removesuffix(".jsonl"))
def test_dump_of_a_loaded_snapshot_is_the_same_bytes(source: Path) -> None:
    data = dump(final_state(source))
    assert dump(load(data, default_instruments())) == data
    assert dump(load(data, default_instruments())) == dump(final_state(source))


# -- random risky streams ------------------------------------------------------------------------


class Twin(Risk):
    """``Risk`` (every invariant checked after every command) that also runs each command on
    a copy loaded from the latest snapshot and requires the copy's events to be identical."""

    def __init__(self, in_hypothesis: bool = False) -> None:
        self.copy: Exchange | None = None
        self.writer: EventWriter | None = None
        self.snapshots = 0
        super().__init__(in_hypothesis)

    def snapshot(self) -> None:
        """Compare the copy's whole state with the original's, then take a new copy."""
        data = dump(self.exchange)
        if self.copy is not None:
            assert dump(self.copy) == data, f"the copy drifted by command {len(self.log)}"
        self.copy = load(data, parse_instruments(INSTRUMENTS))
        self.writer = EventWriter(self.copy.instruments)
        assert self.copy.state_hash() == self.exchange.state_hash()
        assert dump(self.copy) == data
        self.snapshots += 1

    def run(self, cmd: str, **fields: Any) -> list[dict[str, Any]]:
        events = super().run(cmd, **fields)
        if self.copy is not None and self.writer is not None:
            command = decode_command(msgspec.json.encode({"cmd": cmd, **fields}))
            copied = [msgspec.json.encode(self.writer.to_dict(e))
                      for e in self.copy.execute(command)]
            assert copied == [msgspec.json.encode(e) for e in events], (
                f"the copy answered command {len(self.log)} differently: {self.log[-1]}")
        return events


@pytest.mark.parametrize("seed", (1, 2, 3))
def test_random_streams_continue_alike_after_snapshots(seed: int) -> None:
    """Setup: the risk test's seeded loop, 1 500 steps, a snapshot before about one step in
    forty; every liquidation stage, funding and triggers must occur while a copy runs."""
    rng = random.Random(seed)
    pick = RandomPick(rng)
    twin = Twin()
    twin.snapshot()  # the first copy starts before the market does
    for symbol in SYMBOLS:
        gen_quote(twin, _FixedSymbol(pick, symbol))
    names = list(GENERATORS)
    weights = [GENERATORS[name][1] for name in names]
    for _ in range(1_500):
        if rng.randrange(40) == 0:
            twin.snapshot()
        GENERATORS[rng.choices(names, weights)[0]][0](twin, pick)
    twin.snapshot()
    assert twin.snapshots > 20
    assert all(twin.stages[stage] for stage in ("reduce", "takeover", "adl")), twin.stages
    assert twin.counts["event funding"] and twin.counts["event triggered"]


class SnapshotMachine(RiskMachine):
    """The risk state machine with one more rule: take a snapshot and mirror from there."""

    def __init__(self) -> None:
        super().__init__()
        self.risk = Twin(in_hypothesis=True)

    @rule()
    def snapshot(self) -> None:
        self.risk.snapshot()

    def teardown(self) -> None:
        self.risk.snapshot()


TestSnapshotMachine = SnapshotMachine.TestCase
TestSnapshotMachine.settings = settings(max_examples=40, stateful_step_count=50, deadline=None)


def test_the_loaded_margin_screen_sees_losses_on_every_symbol() -> None:
    """Setup: risk-test instruments; t (100 USDT) is long 8 MEDUSDT and 40 IDXUSDT, MEDUSDT's
    index falls to 95 (a loss, no liquidation yet); snapshot; IDXUSDT's index falls to 19.8.
    The numpy screen finds t only if its MEDUSDT rows hold the loss at the current mark: a
    screen rebuilt without re-marking every table misses this liquidation."""
    venue = Venue(parse_instruments(INSTRUMENTS))
    venue("time", ts=START)
    venue("index", symbol="MEDUSDT", price="100.00")
    venue("index", symbol="IDXUSDT", price="20.000")
    venue("deposit", account="mm", amount="1000000")
    venue("deposit", account="t", amount="100")
    for symbol, price, qty in (("MEDUSDT", "100.00", "8"), ("IDXUSDT", "20.000", "40")):
        venue("place", account="mm", symbol=symbol, side="sell", type="limit", qty=qty,
              price=price)
        venue("place", account="t", symbol=symbol, side="buy", type="market", qty=qty)
    assert "liquidation" not in names(venue("index", symbol="MEDUSDT", price="95.00"))
    copy = Venue(parse_instruments(INSTRUMENTS))
    copy.exchange = load(dump(venue.exchange), copy.exchange.instruments)
    events = venue("index", symbol="IDXUSDT", price="19.800")
    assert "liquidation" in names(events)
    assert copy("index", symbol="IDXUSDT", price="19.800") == events


# -- encoding -----------------------------------------------------------------------------------


def test_ints_beyond_64_bits_round_trip() -> None:
    """Setup: 2**70 cash units (about 1.2e13 USDT) more in one account and in the deposits
    counter, kept consistent so that the invariants hold."""
    exchange = final_state(GOLDEN / "liquidations.in.jsonl")
    account = next(iter(exchange.accounts.values()))
    for owner, name in ((account, "wallet"), (account, "deposited"), (exchange, "deposits")):
        setattr(owner, name, getattr(owner, name) + 2**70)
    exchange.screen.dirty.add(account.id)
    data = dump(exchange)
    assert str(exchange.deposits).encode() in data
    copy = load(data, default_instruments())
    assert copy.deposits == exchange.deposits and copy.state_hash() == exchange.state_hash()


def test_the_snapshot_order_of_instruments_is_kept() -> None:
    """Setup: the instruments handed to load in reverse order; event order follows the listing
    order, so the exchange must keep the snapshot's."""
    exchange = final_state(SESSIONS / "first-trades.jsonl")
    copy = load(dump(exchange), dict(reversed(default_instruments().items())))
    assert list(copy.instruments) == list(exchange.instruments)


# -- bad input ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> bytes:
    return dump(final_state(GOLDEN / "liquidations.in.jsonl"))


def test_every_truncation_is_refused(data: bytes) -> None:
    instruments = default_instruments()
    for cut in range(len(data)):
        with pytest.raises(SnapshotError, match="not a readable perpsim snapshot|corrupt"):
            load(data[:cut], instruments)


def test_random_bytes_are_refused() -> None:
    rng, instruments = random.Random(7), default_instruments()
    for size in (0, 1, 2, 10, 100, 5_000):
        for _ in range(50):
            junk = bytes(rng.randrange(256) for _ in range(size))
            with pytest.raises(SnapshotError):
                load(junk, instruments)
    for junk in (b"{}", b"[]", b"null", b'{"format": "perpsim-snapshot"}', b'"x"'):
        with pytest.raises(SnapshotError):
            load(junk, instruments)


def test_a_mutated_snapshot_loads_consistently_or_is_refused(data: bytes) -> None:
    """Setup: 3 000 copies, each with one byte replaced (digits mostly, so numbers change and
    the JSON often stays valid). A copy that loads passed check_invariants."""
    rng, instruments = random.Random(11), default_instruments()
    loaded = 0
    for _ in range(3_000):
        position = rng.randrange(len(data))
        byte = rng.choice(b"0123456789" * 3 + b'-",:[]{}ntf.e')
        mutated = data[:position] + bytes([byte]) + data[position + 1:]
        try:
            load(mutated, instruments)
            loaded += 1
        except SnapshotError:
            pass
    assert 0 < loaded < 3_000


def test_another_version_is_refused_saying_which(data: bytes) -> None:
    future = data.replace(b'"version":%d,' % SNAPSHOT_VERSION, b'"version":7,', 1)
    with pytest.raises(SnapshotError, match=f"version 7 .*reads version {SNAPSHOT_VERSION}"):
        load(future, default_instruments())


def test_another_format_is_refused() -> None:
    with pytest.raises(SnapshotError, match="format is 'journal'"):
        load(b'{"format": "journal", "version": 1}', default_instruments())


def test_missing_or_extra_instruments_are_refused(data: bytes) -> None:
    instruments = default_instruments()
    del instruments["XAGUSDT"]
    with pytest.raises(SnapshotError, match="lack XAGUSDT and add none"):
        load(data, instruments)
    extra = default_instruments() | parse_instruments(INSTRUMENTS)
    with pytest.raises(SnapshotError, match="lack none and add IDXUSDT, MEDUSDT"):
        load(data, extra)


def test_a_changed_instrument_is_refused_naming_the_field(data: bytes) -> None:
    instruments = default_instruments()
    instruments["BTCUSDT"] = msgspec.structs.replace(instruments["BTCUSDT"], taker_fee=1)
    with pytest.raises(SnapshotError, match="BTCUSDT: taker_fee is 50000 in the snapshot but 1"):
        load(data, instruments)


def test_a_well_formed_but_inconsistent_state_is_refused(data: bytes) -> None:
    """Setup: the fee income raised by one cash unit: money is no longer conserved."""
    raw = msgspec.json.decode(data)
    raw["fee_income"] += 1
    with pytest.raises(SnapshotError, match="inconsistent snapshot.*money is not conserved"):
        load(msgspec.json.encode(raw), default_instruments())
