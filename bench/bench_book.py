"""Book + matching alone (no accounts) on a small workload B of bench/compare.py."""

from __future__ import annotations

import pytest

from bench.compare import run_floor, run_perpsim, workload_b

WORKLOAD = workload_b(20_000, seed=7)
EXPECTED = run_floor(WORKLOAD)


@pytest.mark.benchmark(group="book.mixed")
def test_book_and_matching_on_mixed_operations(benchmark):
    fills, volume = benchmark.pedantic(run_perpsim, args=(WORKLOAD,), rounds=3)
    assert (fills, volume) == EXPECTED
    assert fills > 0 and volume > 0
