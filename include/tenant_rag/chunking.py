"""Parent/child chunking of exported Markdown pages, linear in the size of the page.

A page body is cut into sections at ATX headings (``markdown_structure.split_sections``). Consecutive sections are
packed into parents of at most ``RAGConfig.parent_chunk_size`` characters; each section of a parent is then split
into children of at most ``RAGConfig.chunk_size`` characters with LangChain's ``RecursiveCharacterTextSplitter``,
whose first cut is at Markdown block boundaries (``markdown_structure.markdown_blocks``: paragraphs, whole fenced
code blocks, whole tables), so code and tables stay in one piece whenever they fit. Parents are what a query
returns; children are what gets embedded.

Ids are positional (``<page_id>#p<n>`` and ``<parent_id>.c<n>``), so the same page always yields the same ids.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from tenant_rag.config import RAGConfig
from tenant_rag.documents import ExportedPage
from tenant_rag.markdown_structure import Section, markdown_blocks, split_sections

_PROSE_SEPARATORS = ["\n\n", "\n", ". ", " ", ""]
_CODE_SEPARATORS = ["\n\n", "\n", " ", ""]
_TABLE_SEPARATORS = ["\n", " ", ""]


@dataclass(frozen=True)
class ParentChunk:
    parent_id: str
    page_id: str
    ordinal: int
    text: str
    heading_path: tuple[str, ...]


@dataclass(frozen=True)
class ChildChunk:
    chunk_id: str
    parent_id: str
    page_id: str
    ordinal: int
    text: str
    embed_text: str
    heading_path: tuple[str, ...]
    text_hash: str


class MarkdownBlockSplitter(RecursiveCharacterTextSplitter):
    """``RecursiveCharacterTextSplitter`` whose first cut is at Markdown blocks instead of one separator.

    Blocks that fit are merged (with the usual overlap of small pieces); a block that is too large is split
    recursively with separators chosen for its kind (table rows, code lines, paragraphs, sentences, words).
    Text without any separator is cut into fixed windows, which keeps the whole thing linear in its input.
    """

    def __init__(self, *, chunk_size: int, chunk_overlap: int) -> None:
        super().__init__(
            separators=_PROSE_SEPARATORS, keep_separator="end", chunk_size=chunk_size, chunk_overlap=chunk_overlap
        )

    def split_text(self, text: str) -> list[str]:
        chunks: list[str] = []
        fitting: list[str] = []
        for kind, block in markdown_blocks(text):
            if len(block) <= self._chunk_size:
                fitting.append(block)
                continue
            chunks.extend(self._merge_splits(fitting, ""))
            fitting = []
            separators = {"fence": _CODE_SEPARATORS, "table": _TABLE_SEPARATORS}.get(kind, _PROSE_SEPARATORS)
            chunks.extend(self._split_text(block, separators))
        chunks.extend(self._merge_splits(fitting, ""))
        return chunks

    def _merge_splits(self, splits: Iterable[str], separator: str) -> list[str]:
        """LangChain's merge (same chunks, same overlap rule) with a deque, so dropping a piece is O(1)."""
        sep = len(separator)
        docs: list[str] = []
        window: deque[tuple[str, int]] = deque()
        total = 0
        for piece in splits:
            size = self._length_function(piece)
            if window and total + size + sep > self._chunk_size:
                doc = self._join_docs([text for text, _ in window], separator)
                if doc is not None:
                    docs.append(doc)
                while total > self._chunk_overlap or (
                    total > 0 and total + size + (sep if window else 0) > self._chunk_size
                ):
                    total -= window.popleft()[1] + (sep if len(window) > 0 else 0)
            window.append((piece, size))
            total += size + (sep if len(window) > 1 else 0)
        doc = self._join_docs([text for text, _ in window], separator)
        if doc is not None:
            docs.append(doc)
        return docs

    def _split_text(self, text: str, separators: list[str]) -> list[str]:
        if len(text) > self._chunk_size and not any(sep and sep in text for sep in separators):
            return self._windows(text)
        return super()._split_text(text, separators)

    def _windows(self, text: str) -> list[str]:
        step = self._chunk_size - self._chunk_overlap
        pieces = (text[start : start + self._chunk_size].strip() for start in range(0, len(text), step))
        return [piece for piece in pieces if piece]


def _pack_parents(sections: list[Section], limit: int) -> list[list[Section]]:
    """Greedy packing of consecutive sections into groups whose joined text fits in ``limit`` characters."""
    groups: list[list[Section]] = []
    current: list[Section] = []
    size = 0
    for section in sections:
        added = len(section.text) + (2 if current else 0)
        if current and size + added > limit:
            groups.append(current)
            current, size, added = [], 0, len(section.text)
        current.append(section)
        size += added
    if current:
        groups.append(current)
    return groups


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = paths[0]
    for path in paths[1:]:
        length = 0
        while length < min(len(prefix), len(path)) and prefix[length] == path[length]:
            length += 1
        prefix = prefix[:length]
    return prefix


def build_embed_text(title: str, heading_path: tuple[str, ...], text: str) -> str:
    """What is embedded: page title, heading path (without a top heading that repeats the title), then text."""
    path = heading_path[1:] if heading_path and heading_path[0] == title else heading_path
    header = "\n".join(part for part in (title.strip(), " > ".join(path)) if part)
    return f"{header}\n\n{text}" if header else text


def chunk_page(page: ExportedPage, rag: RAGConfig) -> tuple[list[ParentChunk], list[ChildChunk]]:
    """Parents and children of one page; the same page and config always give the same chunks and ids."""
    sections = split_sections(page.body)
    if not sections and page.title.strip():
        sections = [Section((), page.title.strip())]
    parent_splitter = MarkdownBlockSplitter(chunk_size=rag.parent_chunk_size, chunk_overlap=0)
    child_splitter = MarkdownBlockSplitter(chunk_size=rag.chunk_size, chunk_overlap=rag.chunk_overlap)
    pieces: list[Section] = []
    for section in sections:
        if len(section.text) <= rag.parent_chunk_size:
            pieces.append(section)
        else:
            pieces.extend(Section(section.heading_path, part) for part in parent_splitter.split_text(section.text))

    parents: list[ParentChunk] = []
    children: list[ChildChunk] = []
    for ordinal, group in enumerate(_pack_parents(pieces, rag.parent_chunk_size)):
        parent_id = f"{page.page_id}#p{ordinal}"
        parent_text = "\n\n".join(section.text for section in group)
        heading_path = _common_prefix([section.heading_path for section in group])
        parents.append(ParentChunk(parent_id, page.page_id, ordinal, parent_text, heading_path))
        child_ordinal = 0
        for section in group:
            for text in child_splitter.split_text(section.text):
                embed_text = build_embed_text(page.title, section.heading_path, text)
                children.append(
                    ChildChunk(
                        chunk_id=f"{parent_id}.c{child_ordinal}",
                        parent_id=parent_id,
                        page_id=page.page_id,
                        ordinal=child_ordinal,
                        text=text,
                        embed_text=embed_text,
                        heading_path=section.heading_path,
                        text_hash=hashlib.sha256(embed_text.encode("utf-8")).hexdigest(),
                    )
                )
                child_ordinal += 1
    return parents, children
