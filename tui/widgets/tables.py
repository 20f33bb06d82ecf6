"""A DataTable kept in step with the latest frame: rows keyed by id, cells updated in place,
rows added or removed only when they appear or go (never cleared and rebuilt every frame)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from textual.reactive import reactive
from textual.widgets import DataTable

from tui.frame import Frame


def sync_rows(table: DataTable, columns: Sequence[str], rows: Mapping[str, Sequence[str]]) -> None:
    present = {k.value for k in table.rows}
    for key in present - rows.keys():
        table.remove_row(key)
    for key, cells in rows.items():
        if key in present:
            for column, cell in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell, update_width=True)
        else:
            table.add_row(*cells, key=key)


class FrameTable(DataTable):
    """Subclasses name their ``COLUMNS`` and turn a frame into ``frame_rows`` (key -> cells)."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    frame: reactive[Frame | None] = reactive(None, layout=False)
    """The latest frame."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for column in self.COLUMNS:
            self.add_column(column, key=column)

    def frame_rows(self, frame: Frame) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def watch_frame(self, frame: Frame | None) -> None:
        if frame is not None:
            sync_rows(self, self.COLUMNS, self.frame_rows(frame))

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, None when the table is empty."""
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value
