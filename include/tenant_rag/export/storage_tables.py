"""Storage-format tables -> GFM pipe tables, with colspan/rowspan expanded onto a rectangular grid.

A table nested in a cell becomes plain rows (cells separated by `` · ``, rows by ``<br>``).

A cell spanning columns keeps its text in its first column and leaves the others empty; a cell spanning rows
repeats its text in each row (so every row stays readable on its own when a chunk holds only part of the table).
Block content inside a cell (paragraphs, lists) is joined with ``<br>``.
"""

from __future__ import annotations

from lxml import etree

from tenant_rag.export import markdown_text as md
from tenant_rag.export.storage_context import Converter
from tenant_rag.export.storage_parse import tag_name

MAX_SPAN = 100


def _rows(table: etree._Element) -> list[etree._Element]:
    rows: list[etree._Element] = []
    for child in table:
        name = tag_name(child)
        if name == "tr":
            rows.append(child)
        elif name in ("thead", "tbody", "tfoot"):
            rows.extend(row for row in child if tag_name(row) == "tr")
    return rows


def _span(cell: etree._Element, name: str) -> int:
    try:
        return max(1, min(MAX_SPAN, int(cell.get(name) or 1)))
    except ValueError:
        return 1


def _align(cell: etree._Element) -> str:
    style = (cell.get("style") or "").replace(" ", "").lower()
    for value in ("center", "right", "left"):
        if f"text-align:{value}" in style:
            return value
    return ""


def _cell_text(conv: Converter, cell: etree._Element, depth: int) -> str:
    blocks = conv.blocks(cell, depth + 1)
    return "<br>".join(block.replace("\\\n", "<br>").replace("\n", "<br>") for block in blocks)


def _fill_pending(out: list[str], pending: dict[int, tuple[int, str]]) -> None:
    """Append the cells that rowspans from rows above reserve at the current column."""
    while len(out) in pending:
        left, text = pending[len(out)]
        if left <= 1:
            del pending[len(out)]
        else:
            pending[len(out)] = (left - 1, text)
        out.append(text)


def render_table(conv: Converter, table: etree._Element, depth: int) -> str:
    conv.table_depth += 1
    try:
        return _render_table(conv, table, depth)
    finally:
        conv.table_depth -= 1


def _render_table(conv: Converter, table: etree._Element, depth: int) -> str:
    grid: list[list[str]] = []
    header_flags: list[bool] = []
    aligns: dict[int, str] = {}
    pending: dict[int, tuple[int, str]] = {}  # column -> (rows left, text) from rowspans above
    for row in _rows(table):
        out: list[str] = []
        cells = [cell for cell in row if tag_name(cell) in ("td", "th")]
        all_header = bool(cells) and all(tag_name(cell) == "th" for cell in cells)
        for cell in cells:
            _fill_pending(out, pending)
            text = _cell_text(conv, cell, depth)
            colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
            if len(out) not in aligns and _align(cell):
                aligns[len(out)] = _align(cell)
            for offset in range(colspan):
                value = text if offset == 0 else ""
                if rowspan > 1:
                    pending[len(out)] = (rowspan - 1, value)
                out.append(value)
        _fill_pending(out, pending)
        if out:
            grid.append(out)
            header_flags.append(all_header)
    if not grid:
        return ""
    if conv.table_depth > 1:  # a table inside a cell: plain rows (nested pipes would need escaping per level)
        return "<br>".join(" · ".join(cell for cell in row if cell) for row in grid)
    width = max(len(row) for row in grid)
    align_list = [aligns.get(index, "") for index in range(width)]
    if header_flags[0]:
        return md.table(grid[0], grid[1:], align_list)
    return md.table(None, grid, align_list)
