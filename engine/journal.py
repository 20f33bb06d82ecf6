"""The durable log of a paper account: the one engine module that touches files.

A data directory holds:

- ``LOCK``: held with an exclusive ``flock`` while a process uses the directory, so that two
  processes never both write (the second is refused with a message naming the first's pid);
- ``journal-<first index>.log`` segments: a header (magic, format version, index of the first
  record), then records ``[u32 length][u32 crc32][payload]``, the payload a msgspec msgpack
  ``Record``. Every input is appended, and made durable with fsync, before its effects are
  shown (write-ahead);
- ``snapshot-<index>.snap``: the engine state after the first ``index`` records, written to a
  temporary file, fsynced, renamed into place and the directory fsynced, so a crash leaves the
  old snapshot or the new one, never half of one. Once a snapshot is safely down, everything
  older than the snapshot before it is deleted (compaction keeps one generation back, so a
  snapshot found damaged later still leaves a way to rebuild the state).

On open, the newest snapshot that checks out is loaded and the records after it are handed
back for replay. A torn or corrupt *last* record (a crash mid-write) is reported and
truncated; corruption anywhere before the end, or a file written by a newer format version,
is refused with a message that says where: silently skipping a record would lose a trade.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import msgspec

from engine.commands import AnyCommand

FORMAT_VERSION = 1
JOURNAL_MAGIC = b"PERPJNL\x00"
SNAPSHOT_MAGIC = b"PERPSNP\x00"
_HEADER = struct.Struct(">8sHHQ")  # magic, format version, reserved, first record index
_RECORD = struct.Struct(">II")  # payload length, crc32 of the payload
_SNAPSHOT = struct.Struct(">8sHHQII")  # magic, version, reserved, index, crc32, length
MAX_RECORD = 1 << 20
"""A record longer than this can only be a corrupt length field (commands are small)."""


class JournalError(Exception):
    """The data directory cannot be used as it is; the message says why and what to do."""


class CommandRecord(msgspec.Struct, tag="cmd", array_like=True):
    command: AnyCommand


class ErrorRecord(msgspec.Struct, tag="err", array_like=True):
    """A line that was not a command: journalled so that recovery numbers events the same."""

    line: int
    message: str


class StepRecord(msgspec.Struct, tag="step", array_like=True):
    """For a driver above the engine that feeds it its own input besides the journalled
    commands (a trading session over a replay, ``scenarios.session``): the records after this
    one were applied once the driver had run ``step`` steps; ``key`` names that input in the
    journal's first record. The exchange never applies it."""

    step: int
    key: str = ""


Record = CommandRecord | ErrorRecord | StepRecord
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Record)


class FsyncPolicy(msgspec.Struct, frozen=True):
    """How often appended records are made durable.

    ``records=1`` (the default) fsyncs every record before it is acknowledged: interactive
    trading. Larger values group-commit replays: one fsync per ``records`` records, or per
    ``milliseconds`` of the injected clock, whichever comes first.
    """

    records: int = 1
    milliseconds: int | None = None


EVERY_COMMAND = FsyncPolicy()
"""fsync before every acknowledgement: the policy for interactive trading."""


class Recovered(msgspec.Struct):
    """What the directory held: the newest good snapshot and the records after it."""

    snapshot: bytes | None
    snapshot_index: int
    records: list[Record]
    notices: list[str]
    """Things a person should know (a torn record dropped, a bad snapshot skipped)."""


class Journal:
    """An open data directory: append records, write snapshots, fsync by policy."""

    def __init__(self, directory: Path, policy: FsyncPolicy,
                 clock_ns: Callable[[], int] | None) -> None:
        self.directory = directory
        self.policy = policy
        self._clock_ns = clock_ns
        self._lock_fd = -1
        self._fd = -1
        self.index = 0
        """Records in the log so far (snapshot included): the next record's index."""
        self._unsynced = 0
        self._synced_at = 0

    # -- opening and recovery -------------------------------------------------------------------

    @classmethod
    def open(cls, directory: str | Path, policy: FsyncPolicy = EVERY_COMMAND,
             clock_ns: Callable[[], int] | None = None) -> tuple[Journal, Recovered]:
        """Lock ``directory`` (creating it), recover what it holds, and open it for appends.

        Raises:
            JournalError: another process holds the directory, it cannot be created or
                written, or its contents are corrupt before the end or from a newer version.
        """
        path = Path(directory)
        journal = cls(path, policy, clock_ns)
        try:
            path.mkdir(parents=True, exist_ok=True)
            journal._lock()
            recovered = journal._recover()
            journal._open_segment_for_append()
        except OSError as exc:
            journal.close()
            raise JournalError(f"cannot use data directory {path}: {exc.strerror}") from exc
        except JournalError:
            journal.close()
            raise
        return journal, recovered

    def _lock(self) -> None:
        self._lock_fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            raise JournalError(f"{self.directory} is in use by another perpsim process "
                               f"(pid {holder}); stop it or choose another --data-dir") from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)

    def _segments(self) -> list[tuple[int, Path]]:
        return sorted((int(p.stem.split("-")[1]), p) for p in self.directory.glob("journal-*.log"))

    def _snapshots(self) -> list[tuple[int, Path]]:
        return sorted((int(p.stem.split("-")[1]), p)
                      for p in self.directory.glob("snapshot-*.snap"))

    def _recover(self) -> Recovered:
        notices: list[str] = []
        snapshot, snapshot_index = None, 0
        for index, path in reversed(self._snapshots()):
            try:
                snapshot = read_snapshot(path)
            except JournalError as exc:
                notices.append(f"skipped snapshot {path.name}: {exc}")
                continue
            snapshot_index = index
            break
        records: list[Record] = []
        expected = None
        segments = self._segments()
        if segments and segments[0][0] > snapshot_index:
            raise JournalError(f"records {snapshot_index} to {segments[0][0] - 1} are gone and "
                               "no readable snapshot covers them"
                               + (f" ({'; '.join(notices)})" if notices else ""))
        for number, (first, path) in enumerate(segments):
            if expected is not None and first != expected:
                raise JournalError(f"{path.name} starts at record {first}, but the segment before"
                                   f" ends at {expected}: a journal file is missing")
            last = number == len(segments) - 1
            segment_records = self._read_segment(path, first, last, notices)
            for offset, record in enumerate(segment_records):
                if first + offset >= snapshot_index:
                    records.append(record)
            expected = first + len(segment_records)
        self.index = expected if expected is not None else snapshot_index
        if self.index < snapshot_index:
            raise JournalError(f"the journal ends at record {self.index} but the snapshot "
                               f"covers {snapshot_index}: journal files are missing")
        return Recovered(snapshot=snapshot, snapshot_index=snapshot_index, records=records,
                         notices=notices)

    def _read_segment(self, path: Path, first: int, last: bool,
                      notices: list[str]) -> list[Record]:
        data = path.read_bytes()
        if len(data) < _HEADER.size:
            if last:
                notices.append(f"{path.name} was cut short in its header; started it again")
                path.unlink()
                return []
            raise JournalError(f"{path.name} is cut short before its header ends")
        magic, version, _, start = _HEADER.unpack_from(data)
        if magic != JOURNAL_MAGIC:
            raise JournalError(f"{path.name} is not a perpsim journal")
        if version > FORMAT_VERSION:
            raise JournalError(f"{path.name} was written by a newer perpsim (journal format "
                               f"{version}; this one reads up to {FORMAT_VERSION}): upgrade")
        if start != first:
            raise JournalError(f"{path.name} says it starts at record {start}")
        records, position = [], _HEADER.size
        while position < len(data):
            record, end = _read_record(data, position)
            if record is None:
                where = f"{path.name} at byte {position} (record {first + len(records)})"
                if last and not _any_valid_record_after(data, position):
                    notices.append(f"dropped a torn or corrupt last record in {where}")
                    with open(path, "r+b") as handle:
                        handle.truncate(position)
                        os.fsync(handle.fileno())
                    break
                raise JournalError(f"corrupt record in the middle of the journal: {where}; "
                                   "refusing to skip it (restore the directory from a backup)")
            records.append(record)
            position = end
        return records

    # -- appending ------------------------------------------------------------------------------

    def _open_segment_for_append(self) -> None:
        segments = self._segments()
        if segments:
            self._fd = os.open(segments[-1][1], os.O_WRONLY | os.O_APPEND)
        else:
            self._new_segment()

    def _new_segment(self) -> None:
        path = self.directory / f"journal-{self.index:012d}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            _write_all(fd, _HEADER.pack(JOURNAL_MAGIC, FORMAT_VERSION, 0, self.index))
            os.fsync(fd)
            _fsync_directory(self.directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd

    def append(self, record: Record) -> bool:
        """Append one record; fsync if the policy says so. Returns True when everything
        appended so far is durable (and may be acknowledged).

        Raises:
            JournalError: the disk is full, the file is not writable, or another write error;
                the record is not in the journal and the file is as it was.
        """
        payload = _encoder.encode(record)
        data = _RECORD.pack(len(payload), zlib.crc32(payload)) + payload
        size = os.fstat(self._fd).st_size
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            try:  # a partial record must not survive: the next recovery would drop it anyway
                os.ftruncate(self._fd, size)
            except OSError:
                pass
            raise JournalError(_describe(exc, "append to the journal")) from exc
        self.index += 1
        self._unsynced += 1
        if self._due():
            self.sync()
        return self._unsynced == 0

    def _due(self) -> bool:
        if self._unsynced >= self.policy.records:
            return True
        if self.policy.milliseconds is not None and self._clock_ns is not None:
            return self._clock_ns() - self._synced_at >= self.policy.milliseconds * 1_000_000
        return False

    def sync(self) -> None:
        """Make every appended record durable now."""
        if self._unsynced:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise JournalError(_describe(exc, "fsync the journal")) from exc
            self._unsynced = 0
        if self._clock_ns is not None:
            self._synced_at = self._clock_ns()

    @property
    def pending(self) -> int:
        """Records appended but not yet fsynced."""
        return self._unsynced

    # -- snapshots ------------------------------------------------------------------------------

    def write_snapshot(self, data: bytes) -> None:
        """Atomically write a snapshot of the state after ``self.index`` records, start a new
        segment there, then delete what the snapshot makes unnecessary."""
        self.sync()
        index = self.index
        final = self.directory / f"snapshot-{index:012d}.snap"
        temporary = final.with_suffix(".tmp")
        header = _SNAPSHOT.pack(SNAPSHOT_MAGIC, FORMAT_VERSION, 0, index, zlib.crc32(data),
                                len(data))
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, header + data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, final)
            _fsync_directory(self.directory)
            self._new_segment()
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise JournalError(_describe(exc, "write a snapshot")) from exc
        # keep one generation back: if this snapshot is ever unreadable, the previous one
        # and the records since it still rebuild the state
        kept = [i for i, _ in self._snapshots()][-2:]
        for older, path in self._snapshots():
            if older < kept[0]:
                path.unlink(missing_ok=True)
        for first, path in self._segments():
            if first < kept[0]:
                path.unlink(missing_ok=True)
        _fsync_directory(self.directory)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1


def read_snapshot(path: Path) -> bytes:
    """The payload of a snapshot file, checked against its header and checksum."""
    data = path.read_bytes()
    if len(data) < _SNAPSHOT.size:
        raise JournalError("cut short before its header ends")
    magic, version, _, _, crc, length = _SNAPSHOT.unpack_from(data)
    if magic != SNAPSHOT_MAGIC:
        raise JournalError("not a perpsim snapshot")
    if version > FORMAT_VERSION:
        raise JournalError(f"written by a newer perpsim (format {version}; this one reads up "
                           f"to {FORMAT_VERSION})")
    payload = data[_SNAPSHOT.size:]
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise JournalError("truncated or corrupt (checksum mismatch)")
    return payload


def _read_record(data: bytes, position: int) -> tuple[Record | None, int]:
    """The record at ``position`` and where the next starts, or (None, position) if the bytes
    there are not a whole, intact record."""
    if position + _RECORD.size > len(data):
        return None, position
    length, crc = _RECORD.unpack_from(data, position)
    start = position + _RECORD.size
    end = start + length
    if length > MAX_RECORD or end > len(data):
        return None, position
    payload = data[start:end]
    if zlib.crc32(payload) != crc:
        return None, position
    try:
        return _decoder.decode(payload), end
    except msgspec.DecodeError:
        return None, position


def _any_valid_record_after(data: bytes, position: int) -> bool:
    """Is there an intact record anywhere after a bad one? Then the damage is in the middle."""
    for start in range(position + 1, len(data) - _RECORD.size):
        record, end = _read_record(data, start)
        if record is not None and end <= len(data):
            return True
    return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(exc: OSError, action: str) -> str:
    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only",
               errno.EPERM: "operation not permitted"}
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return f"could not {action}: {reason}; the command was not applied"
