"""The agents' table: a DataTable that draws again only what changed between scans."""

from __future__ import annotations

from textual.widgets import DataTable

from otop.ui.rows import Drawn, changed_cells


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
            for key, column, cell in changed_cells(widths, self.drawn_rows, drawn):
                self.update_cell(key, column, cell)
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
