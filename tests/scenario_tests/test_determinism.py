"""A bundled scenario replayed twice with the same seed gives byte-identical reports and event
logs; another seed gives another market; a short scenario's report is golden.

The golden file is rewritten with ``--update-golden`` (then review the diff): any change to the
engine, the participants or the path changes it, which is the point.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.units import parse_timestamp
from scenarios import report
from scenarios.build import prepare
from scenarios.replay import Replay
from scenarios.scenario import load_scenario

GOLDEN = Path(__file__).parent / "golden" / "flash-crash-hour.summary.json"
START, END = parse_timestamp("2026-03-02T01:00:00Z"), parse_timestamp("2026-03-02T02:00:00Z")


def replay(seed: int | None = None, *, reference: bool = False) -> tuple[bytes, bytes, str]:
    """The summary JSON, the event log and the state hash of an hour of flash-crash."""
    setup = prepare(load_scenario("flash-crash"), seed=seed, start=START, end=END,
                    reference=reference)
    log = io.BytesIO()
    run = Replay(setup, event_log=log)
    record = run.run()
    run.exchange.check_invariants()
    return report.summary_json(record, run.exchange.instruments), log.getvalue(), \
        run.exchange.state_hash()


@pytest.fixture(scope="module")
def seeded() -> tuple[bytes, bytes, str]:
    return replay()


def test_same_scenario_and_seed_byte_identical_report_and_event_log(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = replay()
    assert again == seeded
    assert seeded[1].count(b"\n") > 1000 and b'"event":"liquidation"' in seeded[1]


def test_the_written_report_is_byte_identical(tmp_path: Path) -> None:
    setup = prepare(load_scenario("flash-crash"), start=START, end=END)
    record = Replay(setup).run()
    instruments = setup.instruments
    first, second = tmp_path / "a", tmp_path / "b"
    names = [p.name for p in report.write_report(record, instruments, first)]
    report.write_report(record, instruments, second)
    assert "summary.json" in names and "minutes.csv" in names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_is_another_market(seeded) -> None:  # type: ignore[no-untyped-def]
    other = replay(seed=8)
    assert other[0] != seeded[0] and other[1] != seeded[1] and other[2] != seeded[2]


def test_the_reference_path_report_is_golden(request: pytest.FixtureRequest) -> None:
    summary, _, _ = replay(reference=True)
    if request.config.getoption("--update-golden"):
        GOLDEN.write_bytes(summary)
    assert summary == GOLDEN.read_bytes(), "run with --update-golden and review the diff"
