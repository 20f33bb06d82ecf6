"""``perpsim exec`` as a user runs it: a real subprocess, files, stdin, exit status.

DESIGN.md §4 and §7: one command per line in, events out, byte-identical for the same input;
``--instruments`` replaces the default instruments; a user mistake is one line on stderr and a
non-zero exit (2), never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("perpsim")
SESSION = b"""\
# a short session: two accounts trade 0.010 BTC
{"cmd":"time","ts":"2026-01-07T10:00:00Z"}
{"cmd":"index","symbol":"BTCUSDT","price":"90000.00"}
{"cmd":"deposit","account":"maker","amount":"10000"}
{"cmd":"deposit","account":"taker","amount":"10000"}
{"cmd":"place","account":"maker","symbol":"BTCUSDT","side":"sell","type":"limit","qty":"0.010","price":"90000.10"}
{"cmd":"place","account":"taker","symbol":"BTCUSDT","side":"buy","type":"market","qty":"0.010"}

this line is not a command
{"cmd":"query","what":"account","account":"taker"}
"""
QUERY_INSTRUMENTS = b'{"cmd":"query","what":"instruments"}\n'
DEFAULT_TOML = resources.files("engine").joinpath("instruments.toml").read_text("utf-8")


def perpsim(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m tui ARGS`` from the repository root, as a user would run perpsim."""
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=120, check=False)


def events(output: bytes) -> list[dict[str, Any]]:
    """The JSON Lines output, one event per line."""
    assert output.endswith(b"\n"), "every event line ends with a newline"
    return [json.loads(line) for line in output.splitlines()]


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """Check a user mistake: status 2, no output, one line on stderr, no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == 2, f"exit status {result.returncode}, stderr {stderr!r}"
    assert result.stdout == b"", f"nothing on stdout: {result.stdout!r}"
    assert "Traceback" not in stderr, f"a traceback for a user mistake: {stderr}"
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"one line: {stderr!r}"
    assert stderr.startswith("perpsim: error: "), f"says who and what: {stderr!r}"
    return stderr


def only(symbol: str) -> str:
    """The default instruments file cut down to the block of one symbol."""
    blocks = [b for b in DEFAULT_TOML.split("[[instrument]]")[1:] if f'"{symbol}"' in b]
    assert len(blocks) == 1, symbol
    return "[[instrument]]" + blocks[0]


# -- reading commands ---------------------------------------------------------------------------


def test_exec_reads_a_file(tmp_path: Path) -> None:
    """Setup: SESSION in a file. Each command's events come out in order, with seq 1, 2, ...

    The comment and the blank line are skipped; the bad line gives an error event naming its
    line number (9) and the session goes on.
    """
    path = tmp_path / "session.jsonl"
    path.write_bytes(SESSION)
    result = perpsim("exec", str(path))
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr!r}"
    assert result.stderr == b"", f"nothing on stderr: {result.stderr!r}"
    out = events(result.stdout)
    assert [e["event"] for e in out] == [
        "mark", "balance", "balance", "accepted", "accepted", "trade", "fill", "fill", "error",
        "account"], f"event names: {[e['event'] for e in out]}"
    assert [e["seq"] for e in out] == list(range(1, len(out) + 1)), "seq counts from 1"
    assert out[0]["index"] == "90000.00", f"the index is written back as given: {out[0]}"
    trade = out[5]
    assert (trade["price"], trade["qty"]) == ("90000.10", "0.010"), f"trade: {trade}"
    assert out[8]["line"] == 9, f"the error names the input line: {out[8]}"
    account = out[9]
    assert account["account"] == "taker" and account["positions"][0]["size"] == "0.010", (
        f"the taker is long 0.010 BTC: {account}")


def test_exec_reads_stdin_with_dash(tmp_path: Path) -> None:
    """``exec -`` and ``exec`` with no file read stdin and give what the file gives."""
    path = tmp_path / "session.jsonl"
    path.write_bytes(SESSION)
    from_file = perpsim("exec", str(path))
    from_dash = perpsim("exec", "-", stdin=SESSION)
    from_default = perpsim("exec", stdin=SESSION)
    assert from_dash.returncode == 0, f"exit status {from_dash.returncode}: {from_dash.stderr!r}"
    assert from_dash.stdout == from_file.stdout, "stdin and the file give the same events"
    assert from_default.stdout == from_file.stdout, "no file argument means stdin"
    assert len(events(from_dash.stdout)) == 10, "all events of the session"


def test_exec_empty_input() -> None:
    """No commands, no events, exit 0."""
    result = perpsim("exec", "-", stdin=b"")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b""), f"{result}"


def test_same_input_twice_gives_identical_bytes() -> None:
    """Determinism: two runs of the same input write byte-identical output."""
    first = perpsim("exec", "-", stdin=SESSION)
    second = perpsim("exec", "-", stdin=SESSION)
    assert first.returncode == second.returncode == 0, f"{first.stderr!r} {second.stderr!r}"
    assert first.stdout, "the session wrote events"
    assert first.stdout == second.stdout, "same input, byte-identical output"


def test_console_script_runs_exec() -> None:
    """The installed ``perpsim`` script (next to the interpreter) runs the same command."""
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"no console script at {CONSOLE_SCRIPT}")
    script = subprocess.run([str(CONSOLE_SCRIPT), "exec", "-"], cwd=ROOT, input=SESSION,
                            capture_output=True, timeout=120, check=False)
    assert script.returncode == 0, f"exit status {script.returncode}: {script.stderr!r}"
    assert script.stdout == perpsim("exec", "-", stdin=SESSION).stdout, "same events"


# -- --instruments --------------------------------------------------------------------------------


def test_default_instruments_answer() -> None:
    """Without --instruments the venue lists BTCUSDT, XAUUSDT and XAGUSDT."""
    result = perpsim("exec", "-", stdin=QUERY_INSTRUMENTS)
    assert result.returncode == 0, f"{result.stderr!r}"
    (answer,) = events(result.stdout)
    symbols = [i["symbol"] for i in answer["instruments"]]
    assert symbols == ["BTCUSDT", "XAUUSDT", "XAGUSDT"], f"default symbols: {symbols}"


def test_custom_instruments_file_replaces_the_defaults(tmp_path: Path) -> None:
    """Setup: a file with only XAUUSDT, its taker fee changed to 0.0004.

    ``query instruments`` lists just that symbol with the new fee; BTCUSDT is unknown.
    """
    text = only("XAUUSDT")
    assert text.count("taker_fee = 0.0005") == 1
    path = tmp_path / "gold.toml"
    path.write_text(text.replace("taker_fee = 0.0005", "taker_fee = 0.0004"), "utf-8")
    session = QUERY_INSTRUMENTS + b'{"cmd":"index","symbol":"BTCUSDT","price":"90000.00"}\n'
    result = perpsim("exec", "--instruments", str(path), "-", stdin=session)
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr!r}"
    answer, refused = events(result.stdout)
    listed = answer["instruments"]
    assert [i["symbol"] for i in listed] == ["XAUUSDT"], f"only gold: {listed}"
    assert listed[0]["taker_fee"] == "0.0004", f"the file's fee: {listed[0]['taker_fee']}"
    assert refused["event"] == "rejected" and refused["reason"] == "unknown_symbol", (
        f"BTCUSDT is not listed any more: {refused}")


def test_invalid_instruments_file_is_one_line_naming_the_field(tmp_path: Path) -> None:
    """Setup: the default file with a gap between BTCUSDT tiers 1 and 2. Exit 2, one line."""
    old = "notional_floor = 50000,  "
    assert DEFAULT_TOML.count(old) == 1
    path = tmp_path / "bad.toml"
    path.write_text(DEFAULT_TOML.replace(old, "notional_floor = 60000,  "), "utf-8")
    stderr = one_line_error(perpsim("exec", "--instruments", str(path), "-",
                                    stdin=QUERY_INSTRUMENTS))
    assert "tiers[1].notional_floor" in stderr, f"names the field: {stderr!r}"
    assert str(path) in stderr, f"names the file: {stderr!r}"


def test_instruments_file_that_is_not_toml(tmp_path: Path) -> None:
    """A file that is not TOML at all: exit 2, one line."""
    path = tmp_path / "notes.txt"
    path.write_text("these are not instruments {\n", "utf-8")
    stderr = one_line_error(perpsim("exec", "--instruments", str(path), "-"))
    assert "TOML" in stderr, f"says what is wrong: {stderr!r}"


def test_missing_instruments_file(tmp_path: Path) -> None:
    """An instruments file that does not exist: exit 2, one line naming it."""
    path = tmp_path / "absent.toml"
    stderr = one_line_error(perpsim("exec", "--instruments", str(path), "-"))
    assert str(path) in stderr, f"names the file: {stderr!r}"


# -- input files and help -------------------------------------------------------------------------


def test_missing_input_file(tmp_path: Path) -> None:
    """An input file that does not exist: exit 2, one line naming it, no traceback."""
    path = tmp_path / "absent.jsonl"
    stderr = one_line_error(perpsim("exec", str(path)))
    assert str(path) in stderr, f"names the file: {stderr!r}"


def test_input_that_is_a_directory(tmp_path: Path) -> None:
    """A directory given as the input file: exit 2, one line."""
    stderr = one_line_error(perpsim("exec", str(tmp_path)))
    assert str(tmp_path) in stderr, f"names the path: {stderr!r}"


@pytest.mark.parametrize(("args", "expected"), [
    (["--help"], "exec"),
    (["exec", "--help"], "--instruments"),
])
def test_help_exits_zero(args: list[str], expected: str) -> None:
    """``perpsim --help`` and ``perpsim exec --help`` print usage and exit 0."""
    result = perpsim(*args)
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr!r}"
    out = result.stdout.decode()
    assert out.startswith("usage: perpsim"), f"usage line: {out[:80]!r}"
    assert expected in out, f"{expected!r} in the help: {out!r}"


def test_unknown_subcommand_is_a_usage_error() -> None:
    """A subcommand that does not exist: argparse's exit 2, no traceback."""
    result = perpsim("frobnicate")
    assert result.returncode == 2, f"exit status {result.returncode}"
    assert b"Traceback" not in result.stderr, f"no traceback: {result.stderr!r}"


def test_data_dir_alone_uses_the_platform_data_directory(tmp_path) -> None:
    """``--data-dir`` without a value journals under $XDG_DATA_HOME/perpsim (Linux)."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tui", "exec", "-", "--data-dir"], cwd=ROOT, env=env,
        input=b'{"cmd":"deposit","account":"a","amount":"1"}\n', capture_output=True,
        timeout=60)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "perpsim").glob("snapshot-*.snap")), "journalled and snapshotted"
