"""The replay-like mix (bench/market_mix.py) as a benchmark: simulated seconds per CPU second.

Each round replays the opening minute untimed (every account enters), then times the next
``SECONDS`` simulated seconds: clock and index every second, makers re-quoting every 5 s, the
arbitrageur, stops, liquidations, entries and exits. Two faces of the same seeded draws, in one
run: ``units`` drives the engine as a replay will (int-unit commands, one ``MarketStep`` a
second, one ``ReplaceLadder`` a re-quote, only the events it reads built), ``wire`` as a wire
client does (decimals, ``time`` + ``index`` per symbol, ``cancel_all`` + 10 places, every event
built): the before and the after of DESIGN.md §3.1.

The counts and the final state must be the figures pinned in ``EXPECTED``, the same in every
round and in a second run (determinism).
With ``--benchmark-disable`` (CI) the timed stretch is 60 s, so the check stays a few seconds.
"""

from __future__ import annotations

import time
from functools import cache

import pytest

from bench.market_mix import (
    OPENING_SECONDS,
    Counts,
    Face,
    build,
    execute_all,
    final_state,
    new_exchange,
    requotes,
    split,
)
from engine import Exchange

SECONDS = 300
CI_SECONDS = 60

_OPEN_60 = (("BTCUSDT", 899150, 899080, 30044), ("XAUUSDT", 444462, 444586, 365081))
_AFTER_300 = ((("BTCUSDT", 923639, 924228, 27144), ("XAUUSDT", 445749, 445749, 287036),
               ("XAGUSDT", 7459, 7463, 17220033)), 345228732723)
EXPECTED: dict[tuple[Face, int], tuple[tuple[int, ...], tuple]] = {
    ("wire", 60): ((124, 248, 0, 23, 2, 0), (_OPEN_60 + (("XAGUSDT", 7681, 7682, 17022021),), 0)),
    ("units", 60): ((124, 248, 0, 23, 2, 8), (_OPEN_60 + (("XAGUSDT", 7681, 7682, 16983077),), 0)),
    ("wire", 300): ((604, 1208, 23, 93, 25, 0), _AFTER_300),
    ("units", 300): ((604, 1208, 23, 93, 25, 47), _AFTER_300),
}
"""(face, timed seconds) -> ((trades, fills, liquidations, triggered, rejected, bounced) of the
timed stretch, ``final_state``: per symbol (mark, last, open interest), insurance balance).
The two faces trade the same: a ``MarketStep`` gives the marks of ``time`` + ``index``, and a
bounced ladder is sent as the wire's limits. They part only where a ladder keeps the queue
place of an unchanged level that ``cancel_all`` + places sends to the back (XAGUSDT's open
interest after 60 s)."""


@cache
def workload(face: Face, seconds: int) -> tuple[list, list]:
    return split(build(seed=1, seconds=OPENING_SECONDS + seconds, face=face), OPENING_SECONDS)


def warmed_up(face: Face, opening: list) -> Exchange:
    exchange = new_exchange(face)
    execute_all(exchange, opening)
    return exchange


@pytest.mark.benchmark(group="market.mix")
@pytest.mark.parametrize("face", ["wire", "units"])
def test_replay_like_mix(benchmark, face: Face):
    seconds = CI_SECONDS if benchmark.disabled else SECONDS
    opening, timed = workload(face, seconds)
    results: list[tuple[Counts, str, tuple, float, float]] = []

    def replay(exchange: Exchange) -> Counts:
        cpu, wall = time.process_time(), time.perf_counter()
        counts = execute_all(exchange, timed)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        results.append((counts, exchange.state_hash(), final_state(exchange), cpu, wall))
        return counts

    benchmark.pedantic(replay, setup=lambda: ((warmed_up(face, opening),), {}), rounds=3)
    if len(results) < 2:  # --benchmark-disable runs one round: replay once more
        replay(warmed_up(face, opening))
    counts, state, final, _, _ = results[0]
    assert all(r[:3] == (counts, state, final) for r in results), "not deterministic"
    assert counts.trades > 0 and counts.fills == 2 * counts.trades
    assert requotes(timed) >= 2 * 3 * seconds // 5
    assert counts.rejected < counts.commands // 100, "the mix is mostly valid commands"
    figures = (counts.trades, counts.fills, counts.liquidations, counts.triggered,
               counts.rejected, counts.bounced)
    assert (figures, final) == EXPECTED[face, seconds]
    cpu = min(r[3] for r in results)
    wall = min(r[4] for r in results)
    benchmark.extra_info.update(face=face, simulated_seconds=seconds,
                                sim_s_per_cpu_s=seconds / cpu, x_real_time=seconds / wall,
                                trades=counts.trades, fills=counts.fills,
                                liquidations=counts.liquidations, state_hash=state)
    print(f"\nmarket mix ({face}): {seconds} simulated s, {counts}; best round {cpu:.3f} CPU s, "
          f"{wall:.3f} wall s: {seconds / cpu:.1f} simulated s per CPU s, "
          f"{seconds / wall:.1f}x real time")
