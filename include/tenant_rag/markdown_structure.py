"""The structure of a Markdown page as the chunker reads it: sections at headings, and blocks within a section.

One scan over the lines knows CommonMark fenced code blocks, so a ``#`` or a ``|`` inside a fence is code, not a
heading or a table row. Both functions are linear in the size of their input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_TABLE_ROW = re.compile(r" {0,3}\|")

BlockKind = Literal["text", "fence", "table"]


@dataclass(frozen=True)
class Section:
    """The lines from one heading up to the next heading, with the headings above it."""

    heading_path: tuple[str, ...]
    text: str


class _FenceTracker:
    """Follows CommonMark fence opening/closing lines; ``feed`` says whether a line belongs to a fence."""

    def __init__(self) -> None:
        self.marker = ""

    @property
    def inside(self) -> bool:
        return bool(self.marker)

    def feed(self, line: str) -> bool:
        """Consume one line; return True when the line is part of a fenced block (including its fences)."""
        if self.marker:
            stripped = line.strip()
            if stripped.startswith(self.marker) and not stripped.lstrip(self.marker[0]):
                self.marker = ""
            return True
        match = _FENCE_OPEN.match(line)
        if match and not (match.group(1)[0] == "`" and "`" in line[match.end() :]):
            self.marker = match.group(1)
            return True
        return False


def _heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line, without its optional closing ``#`` sequence."""
    match = _HEADING.match(line)
    if not match:
        return None
    title = line[match.end() :].strip()
    without_closing = title.rstrip("#")
    if not without_closing:
        title = ""
    elif without_closing != title and without_closing[-1] in " \t":
        title = without_closing.rstrip()
    return len(match.group(1)), title


def split_sections(body: str) -> list[Section]:
    """Sections of ``body`` at ATX headings outside fences. A heading with no text of its own joins the next."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    path: tuple[str, ...] = ()
    fence = _FenceTracker()

    def flush() -> None:
        text = "".join(current).strip()
        if text:
            sections.append(Section(path, text))

    has_body = False  # whether ``current`` holds more than heading lines
    for line in body.splitlines(keepends=True):
        heading = None if fence.feed(line) else _heading(line)
        if heading is None:
            current.append(line)
            has_body = has_body or bool(line.strip())
            continue
        if has_body:
            flush()
            current, has_body = [], False
        level, title = heading
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = tuple(t for _, t in stack if t)
        current.append(line)
    flush()
    return sections


def markdown_blocks(text: str) -> list[tuple[BlockKind, str]]:
    """Contiguous blocks of ``text`` (their concatenation is ``text``): paragraphs, fenced code, tables.

    Blank lines stay with the block before them, so a cut between blocks never splits a fence or a table.
    """
    blocks: list[tuple[BlockKind, str]] = []
    lines: list[str] = []
    kind: BlockKind = "text"
    fence = _FenceTracker()

    def flush() -> None:
        if lines:
            blocks.append((kind, "".join(lines)))
            lines.clear()

    for line in text.splitlines(keepends=True):
        was_inside = fence.inside
        in_fence = fence.feed(line)
        if in_fence and not was_inside:  # opening fence line
            flush()
            kind = "fence"
        elif was_inside or not line.strip():
            pass  # inside a fence, or a blank line: stays with the current block
        elif _TABLE_ROW.match(line):
            if kind != "table" or (lines and not lines[-1].strip()):
                flush()
                kind = "table"
        elif kind != "text" or (lines and not lines[-1].strip()):
            flush()
            kind = "text"
        lines.append(line)
    flush()
    return blocks
