"""Structure-level comparison of two Markdown texts, for the conformance tests (parsed with markdown-it-py).

Raw HTML in a Markdown file (the reference keeps some storage XHTML verbatim) counts by its text content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from tenant_rag.export.storage_parse import parse_storage

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Features:
    headings: list[tuple[int, str]] = field(default_factory=list)
    code: list[tuple[str, str]] = field(default_factory=list)
    tasks: list[tuple[bool, str]] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def words(self) -> set[str]:
        return {w.lower() for chunk in self.text for w in _WORD.findall(chunk)}


_STORAGE_TAG = re.compile(r"</?(?:ac|ri):[^>]*>")


def strip_storage_tags(markdown: str) -> str:
    """Storage XHTML kept verbatim in a reference Markdown file, reduced to its text (CDATA text kept)."""
    return _STORAGE_TAG.sub(" ", markdown.replace("<![CDATA[", "").replace("]]>", ""))


def _html_text(fragment: str) -> str:
    return " ".join(parse_storage(fragment).itertext())


def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "html_inline":
            parts.append(_html_text(child.content))
        elif child.type == "image":
            parts.append(child.content or child.attrGet("alt") or "")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def features(markdown: str, *, verbatim_storage: bool = False) -> Features:
    """``verbatim_storage``: the text may hold storage XHTML kept as-is (the reference files do)."""
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(strip_storage_tags(markdown) if verbatim_storage else markdown)
    found = Features()
    row: list[str] | None = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            found.headings.append((int(token.tag[1]), _inline_text(tokens[index + 1])))
        elif token.type in ("fence", "code_block"):
            found.code.append(((token.info or "").split(" ")[0], token.content.rstrip("\n")))
            found.text.append(token.content)
        elif token.type == "html_block":
            found.text.append(_html_text(token.content))
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            found.table_rows.append(row)
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            found.text.append(text)
            if row is not None:
                row.append(text)
            match = re.match(r"^\[( |x)\] (.*)$", text)
            if match:
                found.tasks.append((match.group(1) == "x", match.group(2)))
    return found
