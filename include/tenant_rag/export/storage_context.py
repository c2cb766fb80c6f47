"""What a renderer of Confluence elements, macros and tables sees of the conversion it takes part in.

``StorageConverter`` (``storage_markdown``) walks the tree and hands each element it has a renderer for to that
renderer together with itself; the renderers (``storage_elements``, ``storage_macros``, ``storage_tables``) know
the converter only as the ``Converter`` protocol below, so they never import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lxml import etree


@dataclass(frozen=True)
class AttachmentRef:
    """A file attached to a page, as the export knows it."""

    file_name: str
    url: str  # where the file downloads
    document: str | None = None  # link (relative to the converted page) to the file's exported text, if any

    @property
    def link(self) -> str:
        """Where a reference to the file points: its exported document when there is one, else the download."""
        return self.document or self.url


@dataclass
class ConversionContext:
    """What the converter needs to know about the page it converts and the rest of the export.

    Every lookup is a plain callable the exporter fills from what it already has (the listings, the run's
    per-run user cache): the converter itself never touches the network.
    """

    space_key: str = ""
    resolve_page: Callable[[str, str], str | None] | None = None  # (space, title) -> relative link or None
    site_url: str | None = None  # unresolved page links point at <site_url>/display/<space>/<title>
    attachment_url: Callable[[str], str] | None = None  # file name on this page -> URL
    user_name: Callable[[str], str | None] | None = None  # account id / user key -> display name
    #: (file name, title of the page holding it or None for this page, that page's space key) -> the file, or None
    #: when the export does not know it (the converter then falls back to ``attachment_url`` or a page link)
    attachment: Callable[[str, str | None, str], AttachmentRef | None] | None = None
    #: (page title or None for this page, space key) -> the files attached to it, or None when not listed
    attachments_of: Callable[[str | None, str], list[AttachmentRef] | None] | None = None


class Converter(Protocol):
    """The converter as a renderer uses it: the page's context, the links found, and the rendering of children."""

    context: ConversionContext
    page_links: set[tuple[str, str]]  # (space key, title) of the pages the body links to
    table_depth: int  # tables open around the element being rendered

    def blocks(self, element: etree._Element, depth: int = 0) -> list[str]:
        """The children of ``element`` as Markdown blocks."""
        ...

    def inline_children(self, element: etree._Element, depth: int) -> str:
        """The children of ``element`` as inline Markdown."""
        ...

    def list_item(self, marker: str, content: list[str], indent_width: int | None = None) -> str:
        """One list item of ``content`` blocks after ``marker``."""
        ...


#: A renderer of a block element: the Markdown blocks it becomes.
BlockRenderer = Callable[[Converter, etree._Element, int], list[str]]
#: A renderer of an inline element: the inline Markdown it becomes.
InlineRenderer = Callable[[Converter, etree._Element, int], str]
