"""Macros that show files attached to a page, rendered as a visible reference to the file.

- ``view-file`` (Cloud) and ``viewpdf``/``viewdoc``/``viewppt``/``viewxls`` (Server): ``File: [name](link)``;
- ``multimedia``: ``Media: [name](link)``;
- ``drawio`` (and ``drawio-sketch``, ``inc-drawio``) and ``gliffy``: ``Diagram: [name](link)``;
- ``attachments``: ``Attachments:`` and a list of the page's files (its ``patterns`` applied).

The link goes to the file's exported text document when the export has one (a draw.io diagram's labels live
there), else to its download URL. The file may sit on another page (an ``ri:page`` inside the ``ri:attachment``, or
a ``page``/``space`` parameter): it is looked up through the conversion context, never fetched here.
"""

from __future__ import annotations

import re

from lxml import etree

from tenant_rag.export import markdown_text as md
from tenant_rag.export.storage_context import AttachmentRef, Converter
from tenant_rag.export.storage_elements import find_attachment, owner_page, page_link
from tenant_rag.export.storage_parse import attr, tag_name, text_of

FILE_MACROS = {"view-file": "File", "viewpdf": "File", "viewdoc": "File", "viewppt": "File", "viewxls": "File"}
FILE_MACROS |= {"multimedia": "Media", "drawio": "Diagram", "drawio-sketch": "Diagram", "inc-drawio": "Diagram"}
FILE_MACROS |= {"gliffy": "Diagram", "attachments": "Attachments"}


def _parameter(macro: etree._Element, name: str) -> etree._Element | None:
    for child in macro:
        if tag_name(child) == "ac:parameter" and (attr(child, "ac:name") or "").lower() == name.lower():
            return child
    return None


def _value(macro: etree._Element, name: str) -> str:
    found = _parameter(macro, name)
    return md.collapse_spaces(text_of(found)).strip() if found is not None else ""


def _owner(conv: Converter, macro: etree._Element) -> tuple[str | None, str]:
    """The page a macro's ``page`` (and ``space``) parameters name: (title or None for this page, space key)."""
    space = _value(macro, "space") or conv.context.space_key
    page = _parameter(macro, "page")
    if page is None:
        return None, space
    linked = next((node for node in page.iter() if tag_name(node) == "ri:page"), None)
    if linked is not None:
        return attr(linked, "ri:content-title") or None, attr(linked, "ri:space-key") or space
    return md.collapse_spaces(text_of(page)).strip() or None, space


def _named_file(conv: Converter, macro: etree._Element) -> tuple[str, str | None, str]:
    """(file name, owner title, owner space) of the ``name`` parameter: an ``ri:attachment`` or plain text."""
    name = _parameter(macro, "name")
    resource = None if name is None else next((n for n in name.iter() if tag_name(n) == "ri:attachment"), None)
    if resource is not None:
        title, space = owner_page(conv, resource)
        if title is None:
            title, space = _owner(conv, macro)
        return attr(resource, "ri:filename") or "", title, space
    return _value(macro, "name"), *_owner(conv, macro)


def _reference(kind: str, label: str, found: AttachmentRef | None, fallback: str | None) -> str:
    text = md.escape_text(label)
    href = found.link if found is not None else fallback
    return f"{kind}: [{text}]({md.link_url(href)})" if href else f"{kind}: {text}"


def _diagram(conv: Converter, macro: etree._Element, name: str) -> str:
    if name == "gliffy":
        file_name = _value(macro, "name")
        candidates, label = [file_name], _value(macro, "displayname") or file_name
    else:
        file_name = _value(macro, "diagramname")
        label = _value(macro, "diagramdisplayname") or file_name
        candidates = [file_name, f"{file_name}.drawio", label]
    if not file_name or name == "inc-drawio":  # inc-drawio names its page by id: no link can be told
        return f"Diagram: {md.escape_text(label)}" if label else ""
    title, space = _owner(conv, macro)
    found = next((f for c in candidates if c and (f := find_attachment(conv, c, title, space)) is not None), None)
    return _reference("Diagram", label, found, None)


def _listing(conv: Converter, macro: etree._Element) -> list[str]:
    title, space = _owner(conv, macro)
    files = conv.context.attachments_of(title, space) if conv.context.attachments_of else None
    where = "this page" if title is None else md.escape_text(title)
    if files is None:
        return [f"Attachments of {where}"]
    patterns = [p.strip() for p in _value(macro, "patterns").split(",") if p.strip()]
    matchers = []
    for pattern in patterns:
        try:
            matchers.append(re.compile(pattern, re.IGNORECASE))
        except re.error:
            matchers.append(re.compile(re.escape(pattern), re.IGNORECASE))
    shown = [f for f in files if not matchers or any(m.fullmatch(f.file_name) for m in matchers)]
    if not shown:
        return [f"Attachments of {where}: none"]
    items = "\n".join(f"- [{md.escape_text(f.file_name)}]({md.link_url(f.link)})" for f in shown)
    return [f"Attachments of {where}:", items]


def render_file_macro(conv: Converter, macro: etree._Element, name: str) -> list[str]:
    """The blocks of one of ``FILE_MACROS``."""
    if name == "attachments":
        return _listing(conv, macro)
    if FILE_MACROS[name] == "Diagram":
        text = _diagram(conv, macro, name)
        return [text] if text else []
    file_name, title, space = _named_file(conv, macro)
    if not file_name:
        return []
    found = find_attachment(conv, file_name, title, space)
    fallback = page_link(conv, title, space) if found is None and title is not None else None
    return [_reference(FILE_MACROS[name], file_name, found, fallback)]
