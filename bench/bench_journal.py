"""Journal append throughput for each fsync policy (real files, real fsync).

Workload: 1 000 place-order records appended to a fresh data directory per round. Policies:
fsync every record (interactive trading), and group commit every 100 and every 1 000 records
(replays). Each benchmark reopens the directory afterwards and asserts every record is there.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench.conftest import resting_orders
from engine.journal import CommandRecord, FsyncPolicy, Journal

RECORDS = [CommandRecord(order) for order in resting_orders(1_000)]
POLICIES = {"every-record": FsyncPolicy(records=1), "group-100": FsyncPolicy(records=100),
            "group-1000": FsyncPolicy(records=1_000)}


@pytest.mark.benchmark(group="journal.append")
@pytest.mark.parametrize("policy", list(POLICIES))
def test_append_1000_records(benchmark, policy):
    def setup():
        return (Path(tempfile.mkdtemp(prefix="perpsim-bench-")),), {}

    def append_all(directory: Path) -> Path:
        journal, _ = Journal.open(directory, POLICIES[policy])
        for record in RECORDS:
            journal.append(record)
        journal.close()
        return directory

    directory = benchmark.pedantic(append_all, setup=setup, rounds=5)
    journal, recovered = Journal.open(directory)
    journal.close()
    assert recovered.records == RECORDS
