"""Parse Confluence storage format (XHTML with ``ac:``/``ri:`` elements) into an lxml tree, never raising.

Well-formed storage (what Confluence itself writes) goes through the XML parser with the HTML entities declared,
so CDATA and namespaces survive. Anything else (hand-edited bodies, unclosed ``<br>``, stray ``&``) falls back to
lxml's forgiving HTML parser after CDATA sections are turned into escaped text. Element and attribute names are
read through :func:`tag_name` / :func:`attr`, which give ``"ac:link"`` style names for both parsers.
"""

from __future__ import annotations

import html
from functools import lru_cache
from html.entities import name2codepoint

from lxml import etree

NAMESPACES = {
    "ac": "http://atlassian.com/content",
    "ri": "http://atlassian.com/resource/identifier",
    "at": "http://atlassian.com/template",
    "acxhtml": "http://atlassian.com/content/xhtml",
}
_PREFIX_BY_URI = {uri: prefix for prefix, uri in NAMESPACES.items()}
_CDATA_OPEN = "<![CDATA["
_CDATA_CLOSE = "]]>"


@lru_cache(maxsize=1)
def _xml_prologue() -> str:
    entities = "".join(f'<!ENTITY {name} "&#{code};">' for name, code in name2codepoint.items())
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())
    return f"<!DOCTYPE storage [{entities}]><storage {declarations}>"


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        recover=False,
        resolve_entities=True,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )


def _html_parser() -> etree.HTMLParser:
    return etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True)


def cdata_to_text(source: str) -> str:
    """Replace every CDATA section by its escaped text (a lexical pass: the HTML parser drops CDATA)."""
    out: list[str] = []
    position = 0
    while True:
        start = source.find(_CDATA_OPEN, position)
        if start == -1:
            out.append(source[position:])
            return "".join(out)
        end = source.find(_CDATA_CLOSE, start + len(_CDATA_OPEN))
        if end == -1:
            end = len(source)
        out.append(source[position:start])
        out.append(html.escape(source[start + len(_CDATA_OPEN) : end], quote=False))
        position = end + len(_CDATA_CLOSE)


def _clean(source: str) -> str:
    """Drop characters XML cannot carry (NUL and other C0 controls except tab/newline/CR)."""
    return "".join(ch for ch in source if ch >= " " or ch in "\t\n\r")


def parse_storage(storage: str) -> etree._Element:
    """Return a root element whose children are the storage body's top-level nodes. Never raises."""
    text = _clean(storage or "")
    try:
        return etree.fromstring((_xml_prologue() + text + "</storage>").encode("utf-8"), _xml_parser())
    except (etree.XMLSyntaxError, ValueError):
        pass
    try:
        document = etree.fromstring(f"<html><body>{cdata_to_text(text)}</body></html>", _html_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        document = None
    body = document.find("body") if document is not None else None
    if body is None:
        body = etree.Element("body")
        body.text = text
    return body


def tag_name(element: etree._Element) -> str:
    """``"p"``, ``"ac:link"``, ``"ri:page"``...; empty for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        prefix = _PREFIX_BY_URI.get(uri)
        return f"{prefix}:{local}" if prefix else local
    return tag.lower()


def attr(element: etree._Element, name: str, default: str | None = None) -> str | None:
    """Attribute by ``prefix:name`` for either parser (XML stores ``{uri}name``, HTML keeps the colon)."""
    value = element.get(name)
    if value is not None:
        return value
    prefix, sep, local = name.partition(":")
    if sep and prefix in NAMESPACES:
        value = element.get(f"{{{NAMESPACES[prefix]}}}{local}")
    return default if value is None else value


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if tag_name(child) == name]


def first_child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if tag_name(child) == name:
            return child
    return None


def text_of(element: etree._Element) -> str:
    """All text below ``element`` (iterative, safe for deep trees)."""
    return "".join(element.itertext())
