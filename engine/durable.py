"""A durable exchange: every input is journalled before it takes effect.

``DurableSession`` puts ``engine.journal`` in front of an ``Exchange`` (it touches no file
itself). Each input line is appended to the journal first, then applied; its events are held
back until an fsync covers the record, and only then returned to be shown, so nothing a
client saw can be lost. Lines that are not commands are journalled too (as the error they
gave): they take an event number, and recovery must number events exactly as before.

On start the newest snapshot is loaded and the journal tail replayed, which rebuilds the
state an uninterrupted run would have (equal ``state_hash``). A snapshot is written every
``snapshot_every`` records and on a clean close, and the journal is compacted behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from engine import snapshot
from engine.exchange import Exchange
from engine.instrument import Instrument
from engine.journal import (
    EVERY_COMMAND,
    CommandRecord,
    ErrorRecord,
    FsyncPolicy,
    Journal,
    JournalError,
    Record,
    StepRecord,
)
from engine.protocol import EventWriter, ProtocolError, decode_command

_encoder = msgspec.json.Encoder()


class DurableSession:
    """An ``Exchange`` recovered from, and journalling to, a data directory."""

    def __init__(self, directory: str | Path, instruments: Mapping[str, Instrument],
                 policy: FsyncPolicy = EVERY_COMMAND, clock_ns: Callable[[], int] | None = None,
                 snapshot_every: int = 10_000) -> None:
        """Open (and lock) ``directory`` and recover its state.

        Raises:
            JournalError: the directory is locked, unreadable, corrupt or from a newer version.
            snapshot.SnapshotError: the newest valid snapshot does not fit ``instruments``.
        """
        self.journal, recovered = Journal.open(directory, policy, clock_ns)
        try:
            if recovered.snapshot is not None:
                self.exchange = snapshot.load(recovered.snapshot, instruments)
            else:
                self.exchange = Exchange(instruments)
            for record in recovered.records:
                self._apply(record)
        except Exception:
            self.journal.close()
            raise
        self.notices = recovered.notices
        """What recovery did that a person should hear about (a torn record dropped...)."""
        self.recovered_records = len(recovered.records)
        self.snapshot_every = snapshot_every
        self._since_snapshot = len(recovered.records)
        self._writer = EventWriter(self.exchange.instruments)
        self._held: list[bytes] = []

    def _apply(self, record: Record) -> list:
        if isinstance(record, CommandRecord):
            return self.exchange.execute(record.command)
        if isinstance(record, StepRecord):
            raise JournalError(f"{self.journal.directory} holds a trading session's journal, "
                               "not an exchange's: choose another --data-dir")
        return self.exchange.error(record.line, record.message)

    def submit(self, number: int, line: bytes) -> list[bytes]:
        """Journal and apply one input line; return the event lines now safe to show.

        Blank lines and ``#`` comments are ignored. If the journal cannot be written the line
        is not applied at all: the one event returned says so (it has no ``seq``, since the
        engine never saw the command).
        """
        text = line.strip()
        if not text or text.startswith(b"#"):
            return []
        record: Record
        try:
            record = CommandRecord(decode_command(text))
        except ProtocolError as exc:
            record = ErrorRecord(number, str(exc))
        try:
            durable = self.journal.append(record)
        except JournalError as exc:
            return self._release() + [_encoder.encode(
                {"event": "error", "line": number, "message": str(exc)})]
        self._held.extend(self._writer.encode(event) for event in self._apply(record))
        self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every:
            self.take_snapshot()
            durable = True
        return self._release() if durable else []

    def _release(self) -> list[bytes]:
        held, self._held = self._held, []
        return held

    def flush(self) -> list[bytes]:
        """Fsync what is pending and return the events it makes safe to show."""
        self.journal.sync()
        return self._release()

    def take_snapshot(self) -> None:
        self.journal.write_snapshot(snapshot.dump(self.exchange))
        self._since_snapshot = 0

    def close(self, snapshot_on_close: bool = True) -> list[bytes]:
        """Flush, snapshot (so the next start replays nothing) and release the directory."""
        try:
            out = self.flush()
            if snapshot_on_close and self._since_snapshot:
                self.take_snapshot()
            return out
        finally:
            self.journal.close()
