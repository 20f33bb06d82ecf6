"""Golden JSON Lines sessions: ``perpsim exec`` output compared byte for byte.

Each ``golden/<name>.in.jsonl`` (and each bundled session in scenarios/data/sessions/) has its
expected events in ``golden/<name>.out.jsonl``. After a deliberate change, regenerate with
``pytest tests/engine_tests/test_golden.py --update-golden`` and review the diff like a
snapshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import Exchange
from engine.protocol import run

GOLDEN = Path(__file__).parent / "golden"
SESSIONS = Path(__file__).parents[2] / "scenarios" / "data" / "sessions"
INPUTS = sorted(GOLDEN.glob("*.in.jsonl")) + sorted(SESSIONS.glob("*.jsonl"))


def execute(path: Path) -> bytes:
    return b"".join(line + b"\n" for line in run(Exchange(), path.read_bytes().splitlines()))


@pytest.mark.parametrize("source", INPUTS, ids=lambda p: p.name.removesuffix(".jsonl"))
def test_session_matches_its_golden_events(source: Path, request: pytest.FixtureRequest):
    expected = GOLDEN / (source.name.removesuffix(".jsonl").removesuffix(".in") + ".out.jsonl")
    produced = execute(source)
    if request.config.getoption("--update-golden"):
        expected.write_bytes(produced)
    assert expected.exists(), f"no golden file {expected.name}: run with --update-golden"
    assert produced == expected.read_bytes(), f"{source.name} no longer gives {expected.name}"


def test_same_input_gives_byte_identical_output_and_state():
    source = SESSIONS / "first-trades.jsonl"
    lines = source.read_bytes().splitlines()
    first, second = Exchange(), Exchange()
    assert list(run(first, lines)) == list(run(second, lines))
    assert first.state_hash() == second.state_hash()


def test_there_are_golden_sessions():
    assert len(INPUTS) >= 3, INPUTS
