"""The agents' table: a DataTable that draws again only what changed between scans."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from otop.ui.rows import Drawn, changed_cells

K = TypeVar("K", bound=tuple[Any, ...])
V = TypeVar("V")


class AgentTable(DataTable[object]):
    """Two lines a row, filled from the rows' cells (otop/ui/rows.py)."""

    def __init__(self) -> None:
        super().__init__(id="agents", cursor_type="row", zebra_stripes=False)
        self.column_widths: dict[str, int] = {}
        self.drawn_rows: Drawn = []

    def fill(self, widths: dict[str, int], drawn: Drawn, keep: str | None) -> None:
        """Show these rows. The same rows in the same order: only the cells that read
        differently are drawn again (no rebuilt table, so Textual does no layout pass for an
        age ticking). Else the table is rebuilt, the cursor back on the row keyed `keep`."""
        if (widths, drawn) == (self.column_widths, self.drawn_rows):
            return
        same_keys = [k for k, _ in drawn] == [k for k, _ in self.drawn_rows]
        if widths == self.column_widths and same_keys:
            self.redraw_cells(changed_cells(widths, self.drawn_rows, drawn))
            self.drawn_rows = drawn
            return
        if widths != self.column_widths:
            self.clear(columns=True)
            for name, width in widths.items():
                self.add_column(name, key=name, width=width)
        else:
            self.clear()
        self.column_widths, self.drawn_rows = widths, drawn
        for key, cells in drawn:
            self.add_row(*cells, height=2, key=key)
        for i, (key, _) in enumerate(drawn):
            if key == keep:
                self.move_cursor(row=i)
                break

    def redraw_cells(self, changes: Sequence[tuple[str, str, Text]]) -> None:
        """New values in these cells, and only they are drawn again.

        DataTable.update_cell bumps a count that every line it caches is keyed on, so one
        changed cell (a CPU figure, an age) drew every row of the table again: most of the
        app's CPU while agents work. Here only what DataTable cached of the changed cells (and
        of their rows, put together again from the cells) is dropped; a Textual whose caches
        are not as expected gets update_cell, the slow way."""
        if not changes:
            return
        if not all(hasattr(self, name) for name in _CACHES):  # pragma: no cover - another Textual
            for key, column, cell in changes:
                self.update_cell(key, column, cell)
            return
        rows = {RowKey(key) for key, _, _ in changes}
        for key, column, cell in changes:
            self._data[RowKey(key)][ColumnKey(column)] = cell
        indexes = {self._row_locations.get(row) for row in rows}
        cells = {(RowKey(key), ColumnKey(column)) for key, column, _ in changes}
        _drop(self._row_render_cache, lambda k: k[0] in rows)  # made again from its cells
        _drop(self._cell_render_cache, lambda k: (k[0], k[1]) in cells)
        _drop(self._row_renderable_cache, lambda k: k[1] in indexes)
        self._line_cache.clear()  # cached by screen line; made again from the rows' caches
        for index in indexes:
            if index is not None:
                self.refresh_row(index)


# What redraw_cells reads of DataTable's own: its cells, where rows are, and what it caches by
# row (first in the key), by cell (row and column first), by row index (second) and by line.
_CACHES = (
    "_data",
    "_row_locations",
    "_row_render_cache",
    "_cell_render_cache",
    "_row_renderable_cache",
    "_line_cache",
)


def _drop(cache: LRUCache[K, V], doomed: Callable[[K], bool]) -> None:
    keys = cache.keys()
    for key in [k for k in keys if doomed(k)]:
        cache.discard(key)
