"""Durability end to end: recovery equivalence, and real processes killed with SIGKILL.

A session here is a seeded stream of JSON lines: deposits, orders of every kind, cancels,
index moves, clock advances (funding), a few malformed lines. The reference is the same
stream run by a plain in-memory ``Exchange``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import Exchange, default_instruments
from engine.durable import DurableSession
from engine.protocol import run

ROOT = Path(__file__).parents[2]
SYMBOLS = {"BTCUSDT": 90_000.0, "XAGUSDT": 78.5}


def session_lines(seed: int, count: int) -> list[bytes]:
    """A random but valid-looking session; every line is one journal record."""
    rng = random.Random(seed)
    lines = [{"cmd": "time", "ts": "2026-01-07T10:00:00Z"}]
    lines += [{"cmd": "index", "symbol": s, "price": f"{p:.2f}"} for s, p in SYMBOLS.items()]
    accounts = ["a", "b", "c", "d"]
    lines += [{"cmd": "deposit", "account": a, "amount": "50000"} for a in accounts]
    clock = 1767780000
    prices = dict(SYMBOLS)
    while len(lines) < count:
        roll = rng.random()
        symbol = rng.choice(list(SYMBOLS))
        tick = 0.1 if symbol == "BTCUSDT" else 0.01
        if roll < 0.55:
            side = rng.choice(["buy", "sell"])
            price = round(prices[symbol] * (1 + rng.uniform(-0.02, 0.02)) / tick) * tick
            qty = rng.choice(["0.002", "0.01"]) if symbol == "BTCUSDT" else rng.choice(
                ["1", "2.5", "10"])
            line = {"cmd": "place", "account": rng.choice(accounts), "symbol": symbol,
                    "side": side, "qty": qty}
            if rng.random() < 0.2:
                line["type"] = "market"
            else:
                line.update(type="limit", price=f"{price:.2f}",
                            tif=rng.choice(["gtc", "gtc", "ioc"]))
            lines.append(line)
        elif roll < 0.7:
            lines.append({"cmd": "cancel", "account": rng.choice(accounts),
                          "order_id": rng.randint(1, 60)})
        elif roll < 0.82:
            prices[symbol] *= 1 + rng.uniform(-0.03, 0.03)
            lines.append({"cmd": "index", "symbol": symbol, "price": f"{prices[symbol]:.2f}"})
        elif roll < 0.92:
            clock += rng.choice([1, 30, 600, 3600])
            lines.append({"cmd": "time", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime(clock))})
        elif roll < 0.97:
            lines.append({"cmd": "query", "what": "account", "account": rng.choice(accounts)})
        else:
            lines.append("not a command")
    return [(line if isinstance(line, str) else json.dumps(line)).encode() for line in lines]


def reference(lines: list[bytes]) -> tuple[list[bytes], str]:
    exchange = Exchange()
    events = list(run(exchange, lines))
    return events, exchange.state_hash()


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_recovery_gives_the_state_and_events_of_an_uninterrupted_run(tmp_path, seed):
    """Stop and reopen the session at random points, with snapshots at random cadences (and
    sometimes on close): the events shown and the final state are those of one plain run."""
    lines = session_lines(seed, 400)
    expected_events, expected_hash = reference(lines)
    rng = random.Random(seed)
    shown: list[bytes] = []
    position = 0
    while position < len(lines):
        session = DurableSession(tmp_path, default_instruments(),
                                 snapshot_every=rng.randint(3, 120))
        stop = min(len(lines), position + rng.randint(1, 120))
        for number in range(position, stop):
            shown += session.submit(number + 1, lines[number])
        shown += session.close(snapshot_on_close=rng.random() < 0.5)
        position = stop
    session = DurableSession(tmp_path, default_instruments())
    try:
        assert session.exchange.state_hash() == expected_hash
        session.exchange.check_invariants()
    finally:
        session.close()
    assert shown == expected_events


def without_line(event: dict) -> dict:
    """A restarted child numbers its input lines from 1 again: an error's line differs."""
    return {k: v for k, v in event.items() if not (event["event"] == "error" and k == "line")}


def exec_child(data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "exec", "-", "--data-dir", str(data_dir),
         "--snapshot-every", "40"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("seed", [11, 12])
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path, seed):
    """A child trading through the journal is killed with SIGKILL at random moments, again and
    again. After each restart every event it printed (acknowledged) is in the recovered state,
    no event is repeated, the invariants hold, and the state equals a clean replay of the
    journalled prefix."""
    lines = session_lines(seed, 8000)
    expected_events, _ = reference(lines)
    replay, replayed = Exchange(), 0  # a clean replay of the journalled prefix, kept up
    rng = random.Random(seed)
    acknowledged_seqs: list[int] = []
    kills = 0
    done = 0
    while done < len(lines) and kills < 25:
        source, shown = tmp_path / "input.jsonl", tmp_path / f"shown-{kills}.jsonl"
        source.write_bytes(b"\n".join(lines[done:]) + b"\n")
        with open(shown, "wb") as out_file:
            child = subprocess.Popen(
                [sys.executable, "-m", "tui", "exec", str(source), "--data-dir",
                 str(tmp_path / "data"), "--snapshot-every", "40"],
                cwd=ROOT, stdout=out_file, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.18, 0.4))  # imports take ~0.16 s; then ~0.4 ms a line
            child.send_signal(signal.SIGKILL)
            child.wait()
        out = shown.read_bytes()
        kills += 1
        # a kill in the middle of a write leaves a line without its newline: never shown whole,
        # so never acknowledged; every complete line is
        for event_line in out.split(b"\n")[:-1]:
            event = json.loads(event_line)
            if "seq" in event:
                acknowledged_seqs.append(event["seq"])
                assert without_line(event) == without_line(
                    json.loads(expected_events[event["seq"] - 1])), "acked != reference"
        session = DurableSession(tmp_path / "data", default_instruments())
        try:
            exchange = session.exchange
            exchange.check_invariants()
            done = session.journal.index
            for _ in run(replay, lines[replayed:done]):
                pass
            replayed = done
            assert exchange.state_hash() == replay.state_hash(), f"after kill {kills}"
            assert not acknowledged_seqs or max(acknowledged_seqs) <= exchange.seq, (
                "an acknowledged event is missing after recovery")
        finally:
            session.close(snapshot_on_close=False)
    assert acknowledged_seqs == sorted(set(acknowledged_seqs)), "an event was shown twice"
    assert kills >= 15, f"only {kills} kills before the session ended"


def test_a_locked_data_directory_refuses_a_second_process(tmp_path):
    first = exec_child(tmp_path)
    try:
        deadline = time.monotonic() + 30
        lock = tmp_path / "LOCK"
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert time.monotonic() < deadline, "the first process never took the lock"
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-m", "tui", "exec", "-", "--data-dir", str(tmp_path)],
            cwd=ROOT, input=b"", capture_output=True, timeout=30)
        assert second.returncode == 2
        message = second.stderr.decode()
        assert "in use by another perpsim process" in message and "Traceback" not in message
    finally:
        first.kill()
        first.wait()
        for pipe in (first.stdin, first.stdout):
            if pipe is not None:
                pipe.close()


def test_exec_resumes_from_its_data_directory(tmp_path):
    """Two runs of a scripted session against one directory continue the same account."""
    first = (b'{"cmd":"time","ts":"2026-01-07T10:00:00Z"}\n'
             b'{"cmd":"deposit","account":"a","amount":"100"}\n')
    second = b'{"cmd":"deposit","account":"a","amount":"5"}\n'
    for data in (first, second):
        result = subprocess.run(
            [sys.executable, "-m", "tui", "exec", "-", "--data-dir", str(tmp_path)],
            cwd=ROOT, input=data, capture_output=True, timeout=30, check=True)
    last = json.loads(result.stdout.splitlines()[-1])
    assert (last["seq"], last["wallet_balance"]) == (2, "105.00")
    assert os.path.exists(tmp_path / "LOCK")


def test_a_full_disk_rejects_the_command_and_changes_nothing(tmp_path, monkeypatch):
    """The journal cannot take the record: the command is not applied, the one event says
    why, and the next command goes through once the disk has room."""
    import errno

    from engine import journal

    session = DurableSession(tmp_path, default_instruments())
    try:
        session.submit(1, b'{"cmd":"deposit","account":"a","amount":"100"}')
        before = session.exchange.state_hash()

        def full(fd, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(journal.os, "write", full)
        [line] = session.submit(2, b'{"cmd":"deposit","account":"a","amount":"5"}')
        event = json.loads(line)
        assert event == {"event": "error", "line": 2, "message": "could not append to the "
                         "journal: the disk is full; the command was not applied"}
        assert session.exchange.state_hash() == before
        monkeypatch.undo()
        [line] = session.submit(3, b'{"cmd":"deposit","account":"a","amount":"5"}')
        assert json.loads(line)["wallet_balance"] == "105.00"
    finally:
        session.close()
