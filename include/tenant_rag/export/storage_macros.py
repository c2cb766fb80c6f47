"""Confluence macros (``ac:structured-macro`` and the older ``ac:macro``) in storage format -> Markdown.

- code / noformat / diagrams: fenced code, language kept, content from the CDATA body;
- info / note / tip / warning: GitHub-style alert blockquotes (``> [!NOTE]``...), panel: a titled blockquote;
- expand: a titled section (bold title line, then the body); status / jira: inline text (a JQL query as a
  reference: ``Jira issues: `query```);
- markdown: its body is Markdown already and is kept as such;
- include / excerpt-include: a link to the included page;
- macros showing attached files (view-file, viewpdf..., multimedia, attachments, drawio, gliffy): a reference to
  the file, see :mod:`storage_files`;
- a macro with several rich-text bodies (``details`` written by some editors and migrations) keeps them all;
- dynamic macros with no content of their own (toc, children, recently-updated...) render nothing;
- any other macro keeps the text of its body and never stops the conversion.
"""

from __future__ import annotations

from lxml import etree

from tenant_rag.export import markdown_text as md
from tenant_rag.export.storage_context import Converter
from tenant_rag.export.storage_elements import render_link
from tenant_rag.export.storage_files import FILE_MACROS, render_file_macro
from tenant_rag.export.storage_parse import attr, children, first_child, tag_name, text_of

ALERTS = {"info": "NOTE", "tip": "TIP", "note": "IMPORTANT", "warning": "WARNING"}
CODE_MACROS = {"code", "noformat", "plantuml", "mermaid", "mermaid-cloud", "sql", "sql-query", "html", "xml"}
INLINE_MACROS = {"status", "jira", "anchor", "footnote", "mention"}
NO_CONTENT_MACROS = {
    "toc",
    "children",
    "recently-updated",
    "blog-posts",
    "pagetree",
    "pagetreesearch",
    "contentbylabel",
    "livesearch",
    "create-from-template",
    "space-details",
    "profile",
    "gallery",
    "popular-labels",
    "listlabels",
    "related-labels",
    "recently-used-labels",
    "page-index",
    "index",
    "search",
    "tasks-report-macro",
    "content-report-table",
    "detailssummary",
    "toc-zone",
}
INCLUDE_MACROS = {"include", "excerpt-include"}
MARKDOWN_MACROS = {"markdown"}


def macro_name(macro: etree._Element) -> str:
    return (attr(macro, "ac:name") or "").strip().lower()


def parameter(macro: etree._Element, name: str) -> str:
    for child in macro:
        if tag_name(child) == "ac:parameter" and (attr(child, "ac:name") or "").lower() == name:
            return md.collapse_spaces(text_of(child)).strip()
    return ""


def is_inline_macro(macro: etree._Element) -> bool:
    return macro_name(macro) in INLINE_MACROS


def _plain_body(macro: etree._Element) -> str | None:
    body = first_child(macro, "ac:plain-text-body")
    if body is not None:
        return text_of(body)
    if tag_name(macro) == "ac:macro" and not any(tag_name(c) == "ac:rich-text-body" for c in macro):
        return text_of(macro) if macro_name(macro) in CODE_MACROS else None
    return None


def _rich_blocks(conv: Converter, macro: etree._Element, depth: int) -> list[str]:
    bodies = children(macro, "ac:rich-text-body")
    if bodies:
        return [block for body in bodies for block in conv.blocks(body, depth + 1)]
    if tag_name(macro) == "ac:macro":
        return conv.blocks(macro, depth + 1)
    return []


def render_block_macro(conv: Converter, macro: etree._Element, depth: int) -> list[str]:
    name = macro_name(macro)
    if name in CODE_MACROS:
        code = md.code_text(_plain_body(macro) or "")
        language = parameter(macro, "language") if name == "code" else name if name != "noformat" else ""
        language = "" if language in ("none", "text", "plain") else language
        title = parameter(macro, "title")
        block = md.code_block(code, language)
        return [f"*{md.escape_text(title)}*", block] if title else [block]
    if name in ALERTS or name == "panel":
        inner = _rich_blocks(conv, macro, depth)
        title = parameter(macro, "title")
        head = [f"[!{ALERTS[name]}]"] if name in ALERTS else []
        if title:
            head.append(f"**{md.escape_text(title)}**")
        text = "\n\n".join(["\n".join(head), *inner] if head else inner)
        return [md.quote(text)] if text.strip() else []
    if name == "expand":
        title = parameter(macro, "title")
        inner = _rich_blocks(conv, macro, depth)
        return ([f"**{md.escape_text(title)}**"] if title and inner else []) + inner
    if name in INCLUDE_MACROS:
        link = next((node for node in macro.iter() if tag_name(node) == "ac:link"), None)
        target = render_link(conv, link, depth) if link is not None else ""
        return [f"Included page: {target}"] if target else []
    if name in FILE_MACROS:
        return render_file_macro(conv, macro, name)
    if name in MARKDOWN_MACROS:
        markdown = md.code_text(_plain_body(macro) or "")
        return [markdown] if markdown.strip() else _rich_blocks(conv, macro, depth)
    if name in NO_CONTENT_MACROS:
        return []
    if name in INLINE_MACROS:
        text = render_inline_macro(conv, macro, depth)
        return [text] if text else []
    inner = _rich_blocks(conv, macro, depth)
    if inner:
        return inner
    plain = _plain_body(macro)
    if plain and plain.strip():
        return [md.code_block(plain)] if "\n" in plain.strip() else [md.escape_text(md.collapse_spaces(plain).strip())]
    return []


def render_inline_macro(conv: Converter, macro: etree._Element, depth: int) -> str:
    name = macro_name(macro)
    if name == "status":
        title = parameter(macro, "title") or parameter(macro, "colour") or ""
        return f"**{md.escape_text(title)}**" if title else ""
    if name == "jira":
        return _jira(macro)
    if name == "anchor":
        return ""
    blocks = render_block_macro(conv, macro, depth) if name not in INLINE_MACROS else _rich_blocks(conv, macro, depth)
    return " ".join(md.collapse_spaces(block) for block in blocks)


def _jira(macro: etree._Element) -> str:
    """An issue key as text; a JQL query (``jqlQuery``, or ``jql`` as some editors write it) as a reference."""
    key = parameter(macro, "key")
    if key:
        return md.escape_text(key)
    query = parameter(macro, "jqlquery") or parameter(macro, "jql")
    if query:
        return f"Jira issues: {md.code_span(query)}"
    url = parameter(macro, "url")
    return f"[Jira issues]({md.link_url(url)})" if url.startswith(("http://", "https://")) else ""
