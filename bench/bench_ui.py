"""The terminal UI on jan-2026-silver: frames per second the app can sustain and the time from
a key press to the screen reflecting it, at 1x and at 3600x, inside the 1-second window of
Jan 29 (where a frame has the most market to run).

A frame is the app's own ``frame_tick`` (run the market for 1/FPS of real time, build one
snapshot, hand it to every widget) followed by the screen's refresh (``pilot.pause``); the
real clock is simulated so every frame asks for the same market time. The app shows at most
``FPS`` frames a second; the figure here is how many it could.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.units import parse_timestamp
from scenarios.build import prepare
from scenarios.scenario import load_scenario
from scenarios.session import Session
from tui.app import FPS, PerpApp

START = "2026-01-29T00:00:00Z"
FRAMES = 60


async def measure(speed: int) -> dict[str, float]:
    setup = prepare(load_scenario("jan-2026-silver"), start=parse_timestamp(START))
    session = Session(setup, f"bench-ui:{speed}", speed=speed)
    now = [0.0]
    app = PerpApp(session, run_clock=False, clock=lambda: now[0])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("space")                        # play
        await pilot.pause()
        started, worst = time.perf_counter(), 0.0
        for _ in range(FRAMES):
            now[0] += 1 / FPS
            frame = time.perf_counter()
            app.frame_tick()
            await pilot.pause()
            worst = max(worst, time.perf_counter() - frame)
        fps = FRAMES / (time.perf_counter() - started)
        moved = session.now
        keys = []
        for key in ("full_stop", "2", "1", "b", "escape"):
            pressed = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            keys.append(time.perf_counter() - pressed)
        assert session.now >= moved and app.frame is not None
    return {"fps": fps, "worst_frame_ms": worst * 1e3,
            "key_ms_median": sorted(keys)[len(keys) // 2] * 1e3, "key_ms_worst": max(keys) * 1e3,
            "sim_seconds": float(moved - setup.times[0]) / 1e9}


@pytest.mark.benchmark(group="ui.frames")
@pytest.mark.parametrize("speed", [1, 3600])
def test_frames_and_key_latency(benchmark, speed: int) -> None:  # type: ignore[no-untyped-def]
    result = benchmark.pedantic(lambda: asyncio.run(measure(speed)), rounds=1, iterations=1)
    benchmark.extra_info.update({k: round(v, 1) for k, v in result.items()})
    assert result["fps"] > 0 and result["sim_seconds"] > 0
    print(f"\n{speed}x: {result}")
