"""Keeping a DataTable in step with rows keyed by id: cells updated in place, rows added or
removed only when they appear or go (never cleared and rebuilt every frame)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.widgets import DataTable


def sync_rows(table: DataTable, columns: Sequence[str], rows: Mapping[str, Sequence[str]]) -> None:
    for key in [k.value for k in table.rows if k.value not in rows]:
        table.remove_row(key)
    for key, cells in rows.items():
        if key in {k.value for k in table.rows}:
            for column, cell in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)
        else:
            table.add_row(*cells, key=key)


def setup_columns(table: DataTable, columns: Sequence[str]) -> None:
    for column in columns:
        table.add_column(column, key=column)
