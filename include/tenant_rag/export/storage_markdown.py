"""Confluence storage format (XHTML) -> clean Markdown, with lxml walking a real tree (no regexes for structure).

Block elements become blank-line separated blocks; inline elements become text with Markdown markers. Tables,
macros and Confluence's own elements (links, images, emoticons, task lists) are rendered by the functions of
:mod:`storage_tables`, :mod:`storage_macros` and :mod:`storage_elements`, registered below by tag: the converter
passes itself to them, and they know it only as :class:`storage_context.Converter`. :func:`storage_to_markdown`
never raises: input it cannot read becomes plain text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lxml import etree

from tenant_rag.export import markdown_text as md
from tenant_rag.export.storage_context import BlockRenderer, ConversionContext, InlineRenderer
from tenant_rag.export.storage_elements import render_inline_element, render_task_list
from tenant_rag.export.storage_macros import is_inline_macro, render_block_macro, render_inline_macro
from tenant_rag.export.storage_parse import parse_storage, tag_name, text_of
from tenant_rag.export.storage_tables import render_table

__all__ = ["ConversionContext", "ConversionResult", "StorageConverter", "storage_to_markdown"]

log = logging.getLogger(__name__)

MAX_DEPTH = 120
HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = (
    "p ul ol table blockquote pre hr div section article header footer aside nav main dl figure details center "
    "body ac:layout ac:layout-section ac:layout-cell ac:task-list ac:rich-text-body ac:adf-extension "
    "ac:adf-fallback ac:adf-content"
)
BLOCK_TAGS = frozenset((*HEADINGS, *_BLOCKS.split()))
EMPHASIS = dict.fromkeys(("strong", "b"), "**") | dict.fromkeys(("em", "i", "cite", "dfn"), "*")
EMPHASIS |= dict.fromkeys(("s", "del", "strike"), "~~")
CODE_TAGS = frozenset(("code", "tt", "kbd", "samp"))
_SKIPPED = (
    "ac:placeholder ac:parameter script style colgroup col head title ac:task-id ac:task-uuid ac:task-status "
    "ac:emoticon-id"
)
SKIP_TAGS = frozenset(_SKIPPED.split())

#: Block elements rendered outside this module, by tag.
BLOCK_RENDERERS: dict[str, BlockRenderer] = {
    "table": lambda conv, table, depth: [render_table(conv, table, depth)],
    "ac:structured-macro": render_block_macro,
    "ac:macro": render_block_macro,
    "ac:task-list": lambda conv, tasks, depth: [render_task_list(conv, tasks, depth)],
}
#: Inline elements rendered outside this module, by tag; other ``ac:``/``ri:`` elements and ``time`` go to
#: ``render_inline_element``.
INLINE_RENDERERS: dict[str, InlineRenderer] = {
    "ac:structured-macro": render_inline_macro,
    "ac:macro": render_inline_macro,
}


@dataclass
class ConversionResult:
    markdown: str
    page_links: set[tuple[str, str]] = field(default_factory=set)  # (space key, title) of linked pages


class StorageConverter:
    """One conversion: walks the tree once; ``page_links`` collects the pages the body links to."""

    def __init__(self, context: ConversionContext | None = None) -> None:
        self.context = context or ConversionContext()
        self.page_links: set[tuple[str, str]] = set()
        self.table_depth = 0

    # -- blocks -------------------------------------------------------------------------------------------------
    def blocks(self, element: etree._Element, depth: int = 0) -> list[str]:
        """Render the children of ``element`` as blocks; runs of inline content become paragraphs."""
        if depth > MAX_DEPTH:
            text = md.collapse_spaces(text_of(element)).strip()
            return [md.escape_text(text)] if text else []
        out: list[str] = []
        inline: list[str] = [self.text(element.text)]
        for child in element:
            if self.is_block(child):
                self._flush(inline, out)
                out.extend(self.block(child, depth + 1))
                inline = []
            else:
                inline.append(self.inline(child, depth + 1))
            inline.append(self.text(child.tail))
        self._flush(inline, out)
        return [block for block in out if block.strip()]

    def is_block(self, element: etree._Element) -> bool:
        name = tag_name(element)
        if name in BLOCK_TAGS:
            return True
        if name in ("ac:structured-macro", "ac:macro"):
            return not is_inline_macro(element)
        return False

    def _flush(self, inline: list[str], out: list[str]) -> None:
        paragraph = self.paragraph("".join(inline))
        if paragraph:
            out.append(paragraph)
        inline.clear()

    @staticmethod
    def paragraph(raw: str) -> str:
        """Assemble inline text: collapse spaces, hard breaks as ``\\`` line ends, escape line starts."""
        lines = [md.collapse_spaces(line).strip(" ") for line in raw.split(md.BREAK)]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        lines = [md.escape_line_start(line) for line in lines if line]
        return "\\\n".join(lines)

    def block(self, element: etree._Element, depth: int) -> list[str]:
        name = tag_name(element)
        if name in HEADINGS:
            text = self.inline_children(element, depth).replace(md.BREAK, " ")
            text = md.collapse_spaces(text).strip()
            if not text:
                return []
            if text.endswith("#"):
                text = text[:-1] + "\\#"
            return [f"{'#' * HEADINGS[name]} {text}"]
        if name in ("ul", "ol"):
            return [self.list_block(element, depth)]
        renderer = BLOCK_RENDERERS.get(name)
        if renderer is not None:
            return renderer(self, element, depth)
        if name == "blockquote":
            inner = "\n\n".join(self.blocks(element, depth))
            return [md.quote(inner)] if inner else []
        if name == "pre":
            code = element.find(".//code")
            language = ""
            if code is not None:
                language = (code.get("class") or "").removeprefix("language-")
            return [md.code_block(text_of(element), language)]
        if name == "hr":
            return ["---"]
        if name == "dl":
            return self.definition_list(element, depth)
        if name == "ac:adf-extension":
            fallback = next((c for c in element if tag_name(c) == "ac:adf-fallback"), None)
            return self.blocks(fallback if fallback is not None else element, depth)
        return self.blocks(element, depth)

    def list_block(self, element: etree._Element, depth: int) -> str:
        ordered = tag_name(element) == "ol"
        try:
            number = int(element.get("start") or 1)
        except ValueError:
            number = 1
        items: list[str] = []
        for child in element:
            if tag_name(child) == "li":
                content = self.blocks(child, depth + 1)
            elif tag_name(child) in ("ul", "ol") and items:
                items[-1] += "\n" + md.indent(self.list_block(child, depth + 1), "  ")
                continue
            else:
                content = self.blocks_of_single(child, depth + 1)
            if not content and tag_name(child) != "li":
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            items.append(self.list_item(marker, content))
        return "\n".join(items)

    def blocks_of_single(self, element: etree._Element, depth: int) -> list[str]:
        if self.is_block(element):
            return self.block(element, depth)
        paragraph = self.paragraph(self.inline(element, depth))
        return [paragraph] if paragraph else []

    @staticmethod
    def list_item(marker: str, content: list[str], indent_width: int | None = None) -> str:
        """One list item; continuation lines are indented to the item's content column."""
        if not content:
            return marker.rstrip()
        pad = " " * (len(marker) if indent_width is None else indent_width)
        text = content[0]
        for block in content[1:]:
            is_list = block.startswith(("- ", "* ")) or (block[:1].isdigit() and ". " in block[:11])
            text += ("\n" if is_list else "\n\n") + block
        return md.indent(text, pad, first=marker)

    def definition_list(self, element: etree._Element, depth: int) -> list[str]:
        out: list[str] = []
        for child in element:
            if tag_name(child) == "dt":
                term = self.paragraph(self.inline_children(child, depth))
                if term:
                    out.append(f"**{term}**")
            else:
                out.extend(self.blocks(child, depth + 1))
        return out

    # -- inline -------------------------------------------------------------------------------------------------
    @staticmethod
    def text(value: str | None) -> str:
        return md.escape_text(md.collapse_spaces(value)) if value else ""

    def inline_children(self, element: etree._Element, depth: int) -> str:
        parts = [self.text(element.text)]
        for child in element:
            parts.append(self.inline(child, depth + 1))
            parts.append(self.text(child.tail))
        return "".join(parts)

    def inline(self, element: etree._Element, depth: int = 0) -> str:
        """Inline Markdown for ``element`` itself (not its tail)."""
        name = tag_name(element)
        if not name or name in SKIP_TAGS:
            return ""
        if depth > MAX_DEPTH:
            return self.text(text_of(element))
        if name in EMPHASIS:
            return wrap(EMPHASIS[name], self.inline_children(element, depth))
        if name in CODE_TAGS:
            return md.code_span(text_of(element))
        if name in ("sub", "sup"):
            inner = self.inline_children(element, depth).strip()
            return f"<{name}>{inner}</{name}>" if inner else ""
        if name == "br":
            return md.BREAK
        if name == "a":
            return self.anchor(element, depth)
        if name == "img":
            src = element.get("src") or ""
            alt = md.escape_text(md.collapse_spaces(element.get("alt") or element.get("title") or "")).strip()
            return f"![{alt}]({md.link_url(src)})" if src else alt
        if name in INLINE_RENDERERS:
            return INLINE_RENDERERS[name](self, element, depth)
        if name.startswith(("ac:", "ri:")) or name == "time":
            return render_inline_element(self, element, depth)
        if name in BLOCK_TAGS or name == "li":
            return " " + self.inline_children(element, depth) + " "
        return self.inline_children(element, depth)

    def anchor(self, element: etree._Element, depth: int) -> str:
        href = (element.get("href") or "").strip()
        label = self.inline_children(element, depth).strip()
        if not href:
            return label
        if not label or md.collapse_spaces(text_of(element)).strip() == href:
            return (
                f"<{href}>"
                if href.startswith(("http://", "https://", "mailto:")) and " " not in href
                else (f"[{md.escape_text(href)}]({md.link_url(href)})")
            )
        return f"[{label}]({md.link_url(href)})"


def wrap(marker: str, inner: str) -> str:
    """``**inner**`` with surrounding whitespace kept outside the markers; nothing for blank content."""
    core = inner.strip(" " + md.BREAK)
    if not core:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip(" " + md.BREAK))]
    trail = inner[len(inner.rstrip(" " + md.BREAK)) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def storage_to_markdown(storage: str, context: ConversionContext | None = None) -> ConversionResult:
    """Convert one page body; never raises (falls back to the body's plain text, then to nothing)."""
    converter = StorageConverter(context)
    try:
        root = parse_storage(storage)
        markdown = "\n\n".join(converter.blocks(root))
    except Exception as exc:  # the promise is "never crashes on garbage": degrade to plain text
        log.warning("storage conversion fell back to plain text: %s", exc)
        try:
            text = md.collapse_spaces(text_of(parse_storage(storage))).strip()
        except Exception:
            text = ""
        markdown = md.escape_text(text)
    markdown = markdown.strip()
    return ConversionResult(markdown=markdown + "\n" if markdown else "", page_links=converter.page_links)
