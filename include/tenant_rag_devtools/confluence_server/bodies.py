"""The other body representations the local server can answer besides ``storage``: ``view`` (rendered HTML) and
``atlas_doc_format`` (an Atlassian Document Format JSON string), as v1 ``expand=body.view`` /
``body.atlas_doc_format`` and v2 ``body-format=view`` / ``atlas_doc_format`` ask for them.

Neither is Confluence's renderer: ``view`` is the storage XHTML with the ``ac:``/``ri:`` markup taken out (macro
parameters dropped, their bodies and link texts kept, code bodies escaped into ``<pre>``), and the ADF document
holds one paragraph or heading per block of text. Enough for a client that reads them to see the page's words.
"""

from __future__ import annotations

import json
import re
from html import escape
from html.parser import HTMLParser
from typing import Any

REPRESENTATIONS = ("storage", "view", "atlas_doc_format")
_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "pre", "blockquote", "div"}
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_DROPPED = {"ac:parameter", "ac:task-id", "ac:task-status", "ac:placeholder"}


def _uncdata(storage: str) -> str:
    return _CDATA.sub(lambda m: escape(m.group(1), quote=False), storage)


class _ViewRenderer(HTMLParser):
    """Copies HTML through, drops the ``ac:``/``ri:`` tags (and the text of macro parameters)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropping += 1
        elif tag == "ac:plain-text-body":
            self.out.append("<pre>")
        elif not tag.startswith(("ac:", "ri:")) and not self.dropping:
            rendered = "".join(f' {k}="{escape(v or "")}"' for k, v in attrs)
            self.out.append(f"<{tag}{rendered}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not tag.startswith(("ac:", "ri:")) and not self.dropping:
            rendered = "".join(f' {k}="{escape(v or "")}"' for k, v in attrs)
            self.out.append(f"<{tag}{rendered} />")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
        elif tag == "ac:plain-text-body":
            self.out.append("</pre>")
        elif not tag.startswith(("ac:", "ri:")) and not self.dropping:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


def view_html(storage: str) -> str:
    renderer = _ViewRenderer()
    renderer.feed(_uncdata(storage))
    renderer.close()
    return "".join(renderer.out)


class _AdfBuilder(HTMLParser):
    """One ADF block (heading or paragraph) per HTML block element that holds text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict[str, Any]] = []
        self.text: list[str] = []
        self.heading: int | None = None
        self.dropping = 0

    def _flush(self) -> None:
        text = " ".join("".join(self.text).split())
        self.text = []
        if not text:
            return
        content = [{"type": "text", "text": text}]
        if self.heading is not None:
            self.blocks.append({"type": "heading", "attrs": {"level": self.heading}, "content": content})
        else:
            self.blocks.append({"type": "paragraph", "content": content})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropping += 1
        elif tag in _BLOCKS or tag == "ac:plain-text-body":
            self._flush()
            self.heading = int(tag[1]) if re.fullmatch(r"h[1-6]", tag) else None

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCKS or tag == "ac:plain-text-body":
            self._flush()
            self.heading = None

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.text.append(data)


def atlas_doc(storage: str) -> str:
    builder = _AdfBuilder()
    builder.feed(_uncdata(storage))
    builder.close()
    builder._flush()
    return json.dumps({"type": "doc", "version": 1, "content": builder.blocks}, ensure_ascii=False)


def render(storage: str, representation: str) -> str:
    """The body in ``representation`` (one of ``REPRESENTATIONS``)."""
    if representation == "view":
        return view_html(storage)
    if representation == "atlas_doc_format":
        return atlas_doc(storage)
    if representation == "storage":
        return storage
    raise ValueError(f"representation {representation!r} is not one of {REPRESENTATIONS}")
