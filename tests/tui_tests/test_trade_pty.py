"""``perpsim trade`` as a person runs it: the real app in a pseudo-terminal, a few keys, ``q``,
exit status 0; then the same command again resumes the session. Also the command line's
mistakes: one line, exit status 2."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60.0
"""Seconds a run may take before the test gives up on it (a hang, not a timing check)."""


def run_in_pty(args: list[str], keys: list[bytes], env: dict[str, str]) -> tuple[int, bytes]:
    """Start perpsim in a pty of 100x30, wait for the first screen, send ``keys`` (each after
    the screen has answered the previous), and return the exit status and all output."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env,
                               stdin=follower, stdout=follower, stderr=follower,
                               start_new_session=True)
    os.close(follower)
    output = bytearray()

    def read_until(marker: bytes) -> None:
        deadline = time.monotonic() + LIMIT
        start = len(output)
        while marker not in output[start:] and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    output.extend(os.read(leader, 65536))
                except OSError:
                    return
            if process.poll() is not None:
                return

    try:
        read_until(b"[paused]")                 # the header: the app is up
        for key in keys:
            os.write(leader, key)
            # a lone escape is told from the start of a sequence by a pause after it
            time.sleep(0.3)
            read_until(b"\x1b")                 # some redraw answers it
        read_until(b"\x1b[?1049l")              # the alternate screen is left on exit
        status = process.wait(timeout=LIMIT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(leader)
    return status, bytes(output)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path),
            "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}


def test_trade_opens_takes_keys_and_quits_cleanly(env: dict[str, str], tmp_path: Path) -> None:
    args = ["trade", "--scenario", "flash-crash", "--balance", "2500"]
    status, output = run_in_pty(args, [b"?", b"\x1b", b".", b".", b"q"], env)
    assert status == 0, output[-2000:]
    sessions = list((tmp_path / "perpsim" / "sessions").iterdir())
    assert [p.name.startswith("flash-crash") for p in sessions] == [True], sessions
    status, output = run_in_pty(args, [b"q"], env)
    assert status == 0, output[-2000:]
    assert b"resuming the session" in output


@pytest.mark.parametrize("args, says", [
    (["trade", "--scenario", "no-such-thing"], "no bundled scenario"),
    (["trade", "--speed", "7"], "--speed"),
    (["trade", "--balance", "-5"], "balance"),
    (["trade", "--scenario", "flash-crash", "--from", "2020-01-01T00:00:00Z"], "--from"),
])
def test_a_bad_flag_or_scenario_is_one_line_and_exit_2(env: dict[str, str], args: list[str],
                                                         says: str) -> None:
    result = subprocess.run([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env,
                            capture_output=True, timeout=LIMIT, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("perpsim: error:"), lines
    assert result.stdout == b""


def test_perpsim_alone_opens_jan_2026_silver(env: dict[str, str], tmp_path: Path) -> None:
    status, output = run_in_pty([], [b"q"], env)
    assert status == 0, output[-2000:]
    assert b"jan-2026-silver" in output
    (folder,) = (tmp_path / "perpsim" / "sessions").iterdir()
    assert folder.name.startswith("jan-2026-silver")
