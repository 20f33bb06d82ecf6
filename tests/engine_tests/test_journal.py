"""The journal's file format and its failure modes, on real files in a temporary directory.

Read-only directories cannot be made here (the tests run as root, which writes anyway), so a
failing write is simulated by making ``os.write`` raise the errors a full or read-only disk
gives; the code path is the same.
"""

from __future__ import annotations

import errno
import os
from decimal import Decimal
from pathlib import Path

import pytest

from engine import journal as j
from engine.commands import Deposit
from engine.journal import CommandRecord, ErrorRecord, FsyncPolicy, Journal, JournalError


def deposit(n: int) -> CommandRecord:
    return CommandRecord(Deposit(account=f"a{n}", amount=Decimal(n + 1)))


def write(directory: Path, count: int, policy: FsyncPolicy = j.EVERY_COMMAND) -> None:
    journal, _ = Journal.open(directory, policy)
    for n in range(count):
        journal.append(deposit(n))
    journal.close()


def segment(directory: Path) -> Path:
    [path] = sorted(directory.glob("journal-*.log"))
    return path


def test_records_come_back_in_order(tmp_path: Path) -> None:
    write(tmp_path, 5)
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert recovered.records == [deposit(n) for n in range(5)]
    assert (recovered.snapshot, recovered.notices) == (None, [])


def test_error_records_round_trip(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    journal.append(ErrorRecord(line=3, message="JSON is malformed"))
    journal.close()
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert recovered.records == [ErrorRecord(line=3, message="JSON is malformed")]


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_a_torn_last_record_is_reported_and_truncated(tmp_path: Path, cut: int) -> None:
    """A crash in the middle of a write leaves part of the last record: it was never
    acknowledged (its fsync never returned), so it is dropped, and appends go on."""
    write(tmp_path, 3)
    path = segment(tmp_path)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - cut)
    journal, recovered = Journal.open(tmp_path)
    assert recovered.records == [deposit(0), deposit(1)]
    assert len(recovered.notices) == 1 and "dropped a torn or corrupt last record" in (
        recovered.notices[0])
    journal.append(deposit(7))
    journal.close()
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert recovered.records == [deposit(0), deposit(1), deposit(7)]


def test_a_flipped_byte_in_the_middle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, 5)
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[j._HEADER.size + 12] ^= 0x40  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="corrupt record in the middle of the journal: "
                       r"journal-000000000000.log at byte 20 \(record 0\); refusing"):
        Journal.open(tmp_path)


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    write(tmp_path, 1)
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[8:10] = (j.FORMAT_VERSION + 1).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="written by a newer perpsim"):
        Journal.open(tmp_path)


def test_a_second_process_is_refused(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    try:
        with pytest.raises(JournalError, match=rf"in use by another perpsim process \(pid "
                           rf"{os.getpid()}\)"):
            Journal.open(tmp_path)
    finally:
        journal.close()
    Journal.open(tmp_path)[0].close()  # free again once closed


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "the disk is full"),
                                             (errno.EROFS, "the file system is read-only"),
                                             (errno.EACCES, "permission denied")])
def test_a_failed_append_leaves_the_journal_as_it_was(tmp_path: Path, monkeypatch, code,
                                                      words) -> None:
    journal, _ = Journal.open(tmp_path)
    journal.append(deposit(0))
    size = segment(tmp_path).stat().st_size
    real_write = os.write

    def half_then_fail(fd: int, data) -> int:
        real_write(fd, bytes(data[:3]))  # a partial write, then the error
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(j.os, "write", half_then_fail)
    with pytest.raises(JournalError, match=f"could not append to the journal: {words}"):
        journal.append(deposit(1))
    monkeypatch.undo()
    assert segment(tmp_path).stat().st_size == size, "no partial record left behind"
    journal.append(deposit(2))
    journal.close()
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert recovered.records == [deposit(0), deposit(2)]


def test_group_commit_fsyncs_every_n_records(tmp_path: Path, monkeypatch) -> None:
    syncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(j.os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd)))
    journal, _ = Journal.open(tmp_path, FsyncPolicy(records=3))
    syncs.clear()
    durable = [journal.append(deposit(n)) for n in range(7)]
    assert durable == [False, False, True, False, False, True, False]
    assert len(syncs) == 2 and journal.pending == 1
    journal.close()
    assert journal.pending == 0


def test_group_commit_fsyncs_after_the_time_bound(tmp_path: Path) -> None:
    now = [0]
    journal, _ = Journal.open(tmp_path, FsyncPolicy(records=1000, milliseconds=5),
                              clock_ns=lambda: now[0])
    assert journal.append(deposit(0)) is False
    now[0] = 5_000_000
    assert journal.append(deposit(1)) is True
    journal.close()


def test_snapshots_compact_the_journal_and_keep_one_generation(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    for round_ in range(3):
        for n in range(2):
            journal.append(deposit(10 * round_ + n))
        journal.write_snapshot(f"state {round_}".encode())
    journal.close()
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "LOCK")
    assert names == ["journal-000000000004.log", "journal-000000000006.log",
                     "snapshot-000000000004.snap", "snapshot-000000000006.snap"]
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert (recovered.snapshot, recovered.snapshot_index, recovered.records) == (
        b"state 2", 6, [])


def test_a_truncated_snapshot_falls_back_to_the_one_before(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    journal.append(deposit(0))
    journal.write_snapshot(b"after one")
    journal.append(deposit(1))
    journal.write_snapshot(b"after two")
    journal.append(deposit(2))
    journal.close()
    newest = tmp_path / "snapshot-000000000002.snap"
    newest.write_bytes(newest.read_bytes()[:-3])
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert (recovered.snapshot, recovered.snapshot_index) == (b"after one", 1)
    assert recovered.records == [deposit(1), deposit(2)]
    assert recovered.notices == [
        "skipped snapshot snapshot-000000000002.snap: truncated or corrupt (checksum mismatch)"]


def test_missing_records_are_refused(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path)
    journal.append(deposit(0))
    journal.write_snapshot(b"after one")
    journal.append(deposit(1))
    journal.close()
    (tmp_path / "snapshot-000000000001.snap").unlink()
    with pytest.raises(JournalError, match="records 0 to 0 are gone"):
        Journal.open(tmp_path)


def test_step_records_round_trip(tmp_path: Path) -> None:
    """The record a session (scenarios/session.py) journals beside its commands."""
    journal, _ = Journal.open(tmp_path)
    journal.append(j.StepRecord(step=1, key="scenario:seed:range"))
    journal.append(deposit(0))
    journal.append(j.StepRecord(step=42))
    journal.close()
    journal, recovered = Journal.open(tmp_path)
    journal.close()
    assert recovered.records == [j.StepRecord(1, "scenario:seed:range"), deposit(0),
                                 j.StepRecord(42, "")]
