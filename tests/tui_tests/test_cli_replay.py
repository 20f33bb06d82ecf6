"""``perpsim scenarios`` and the mistakes ``perpsim replay`` reports in one line (a real
subprocess, as a user runs it). The replays themselves are in tests/scenario_tests."""

from __future__ import annotations

import pytest
from test_cli import one_line_error, perpsim


def test_scenarios_lists_the_bundled_ones() -> None:
    result = perpsim("scenarios")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for name in ("jan-2026-silver", "jan-2026-week2", "jan-30-crash", "flash-crash",
                 "funding-squeeze", "weekend-gap"):
        assert name in out
    assert "2026-01-02 00:00" in out  # jan-2026-silver's start


@pytest.mark.parametrize("args, words", [
    (["replay", "no-such-scenario"], "no bundled scenario of that name"),
    (["replay", "jan-2026-week2", "--position", "XAGUSDT:up:1@2"], "side must be long or short"),
    (["replay", "jan-2026-week2", "--position", "XAGUSDT:long:1@2@2020-01-01T00:00:00Z"],
     "outside the replay's range"),
    (["replay", "jan-2026-week2", "--strategy", "nothere.py:X"], "does not exist"),
    (["replay", "jan-2026-week2", "--from", "2026-01-12T00:00:00Z",
      "--to", "2026-01-11T00:00:00Z"], "must lie inside it, in order"),
    (["replay", "jan-2026-week2", "--from", "yesterday"], "--from"),
    (["replay", "jan-2026-week2", "--seed", "x"], "--seed"),
    (["replay", "jan-2026-week2", "--report", "/proc/perpsim-report"], "cannot write the report"),
])
def test_replay_mistakes_are_one_line(args: list[str], words: str) -> None:
    stderr = one_line_error(perpsim(*args))
    assert words in stderr
