"""Confluence inline elements in storage format: links, images, user mentions, emoticons, times, task lists.

Macros are not rendered here, even inline: the converter hands them to ``storage_macros``.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from lxml import etree

from tenant_rag.export import markdown_text as md
from tenant_rag.export.storage_context import AttachmentRef, Converter
from tenant_rag.export.storage_parse import attr, first_child, tag_name, text_of

EMOTICONS = {
    "smile": "🙂",
    "sad": "🙁",
    "cheeky": "😛",
    "laugh": "😀",
    "wink": "😉",
    "thumbs-up": "👍",
    "thumbs-down": "👎",
    "information": "ℹ️",
    "tick": "✅",
    "cross": "❌",
    "warning": "⚠️",
    "plus": "➕",
    "minus": "➖",
    "question": "❓",
    "light-on": "💡",
    "light-off": "🌙",
    "yellow-star": "⭐",
    "red-star": "⭐",
    "green-star": "⭐",
    "blue-star": "⭐",
    "heart": "❤️",
    "broken-heart": "💔",
}
RESOURCE_TAGS = ("ri:page", "ri:blog-post", "ri:attachment", "ri:user", "ri:space", "ri:url", "ri:content-entity")


def render_inline_element(conv: Converter, element: etree._Element, depth: int) -> str:
    name = tag_name(element)
    if name == "ac:link":
        return render_link(conv, element, depth)
    if name == "ac:image":
        return render_image(conv, element)
    if name == "ac:emoticon":
        fallback = attr(element, "ac:emoji-fallback")
        if fallback:
            return fallback
        emoticon = attr(element, "ac:name") or attr(element, "ac:emoji-shortname") or ""
        return EMOTICONS.get(emoticon, f":{emoticon.strip(':')}:" if emoticon else "")
    if name == "time":
        return md.escape_text(element.get("datetime") or text_of(element))
    if name == "ri:user":
        return user_mention(conv, element)
    if name.startswith("ri:"):
        return md.escape_text(resource_label(element))
    if name in ("ac:task-list", "ac:task"):
        return " " + md.collapse_spaces(render_task_list(conv, element, depth)) + " "
    return conv.inline_children(element, depth)


def resource_label(resource: etree._Element) -> str:
    """The human-readable name of an ``ri:`` resource (page title, file name, space key, URL)."""
    for key in ("ri:content-title", "ri:filename", "ri:space-key", "ri:value", "ri:content-id"):
        value = attr(resource, key)
        if value:
            return value
    return ""


def user_mention(conv: Converter, user: etree._Element) -> str:
    user_id = attr(user, "ri:account-id") or attr(user, "ri:userkey") or attr(user, "ri:username") or ""
    name = conv.context.user_name(user_id) if conv.context.user_name and user_id else None
    return "@" + md.escape_text(name or attr(user, "ri:username") or user_id or "unknown-user")


def _link_body(conv: Converter, link: etree._Element, depth: int) -> str:
    plain = first_child(link, "ac:plain-text-link-body")
    if plain is not None:
        return md.escape_text(md.collapse_spaces(text_of(plain)).strip())
    rich = first_child(link, "ac:link-body")
    if rich is not None:
        return md.collapse_spaces(conv.inline_children(rich, depth)).strip()
    return ""


def find_attachment(
    conv: Converter, file_name: str, page_title: str | None = None, space: str = ""
) -> AttachmentRef | None:
    """The file ``file_name`` attached to this page (``page_title`` None) or to another page; None when another
    page's file is unknown. A file of this page is always found: its URL comes from ``attachment_url`` or, without
    one, is the file name itself (a link relative to the page)."""
    context = conv.context
    space = space or context.space_key
    if context.attachment is not None:
        found = context.attachment(file_name, page_title, space)
        if found is not None:
            return found
    if page_title is not None:
        return None
    url = context.attachment_url(file_name) if context.attachment_url else quote(file_name)
    return AttachmentRef(file_name, url)


def owner_page(conv: Converter, resource: etree._Element) -> tuple[str | None, str]:
    """(title, space key) of the page an ``ri:attachment`` names with a nested ``ri:page``; title None: this page."""
    page = first_child(resource, "ri:page")
    title = attr(page, "ri:content-title") if page is not None else None
    if page is None or not title:
        return None, conv.context.space_key
    return title, attr(page, "ri:space-key") or conv.context.space_key


def attachment_href(conv: Converter, resource: etree._Element) -> tuple[str | None, bool]:
    """Where an ``ri:attachment`` links to, and whether that is the file: its download URL; for an unknown file of
    another page, that page (False); (None, False) when nothing is known."""
    title, space = owner_page(conv, resource)
    found = find_attachment(conv, attr(resource, "ri:filename") or "", title, space)
    if found is not None:
        return found.url, True
    page = first_child(resource, "ri:page")
    return (page_href(conv, page) if page is not None else None), False


def page_href(conv: Converter, resource: etree._Element) -> str | None:
    return page_link(conv, attr(resource, "ri:content-title") or "", attr(resource, "ri:space-key") or "")


def page_link(conv: Converter, title: str, space: str = "") -> str | None:
    """A link to the page ``title`` of ``space`` (default: this page's): its exported file, else its site URL."""
    space = space or conv.context.space_key
    if not title:
        return None
    conv.page_links.add((space, title))
    if conv.context.resolve_page:
        target = conv.context.resolve_page(space, title)
        if target:
            return target
    if conv.context.site_url and space:
        return f"{conv.context.site_url.rstrip('/')}/display/{quote(space)}/{quote(title.replace(' ', '+'), safe='+')}"
    return None


def render_link(conv: Converter, link: etree._Element, depth: int) -> str:
    body = _link_body(conv, link, depth)
    resource = next((child for child in link if tag_name(child) in RESOURCE_TAGS), None)
    anchor = attr(link, "ac:anchor")
    fragment = f"#{anchor}" if anchor else ""
    if resource is None:
        return f"[{body or md.escape_text(anchor or '')}]({md.link_url(fragment)})" if fragment else body
    kind = tag_name(resource)
    if kind == "ri:user":
        return body or user_mention(conv, resource)
    label = body or md.escape_text(resource_label(resource))
    href: str | None
    if kind == "ri:page":
        href = page_href(conv, resource)
    elif kind == "ri:attachment":
        href, _ = attachment_href(conv, resource)
    elif kind == "ri:url":
        href = attr(resource, "ri:value")
    else:
        href = None
    if not href:
        return label
    return f"[{label}]({md.link_url(href + fragment)})"


def render_image(conv: Converter, image: etree._Element) -> str:
    """An image; one attached to another page that the export does not know becomes a link to that page."""
    resource = next((child for child in image if tag_name(child) in ("ri:attachment", "ri:url")), None)
    if resource is None:
        return ""
    if tag_name(resource) == "ri:url":
        href: str | None = attr(resource, "ri:value") or ""
        file_name, is_file = urlsplit(href or "").path.rsplit("/", 1)[-1], True
    else:
        file_name = resource_label(resource)
        href, is_file = attachment_href(conv, resource)
    label = attr(image, "ac:alt") or attr(image, "ac:title") or unquote(file_name)
    label = md.escape_text(md.collapse_spaces(label)).strip()
    if not href:
        return label
    return f"{'!' if is_file else ''}[{label}]({md.link_url(href)})"


def render_task_list(conv: Converter, task_list: etree._Element, depth: int) -> str:
    """``ac:task-list`` as ``- [ ]`` / ``- [x]`` items (nested task lists indented under their item)."""
    tasks = [task_list] if tag_name(task_list) == "ac:task" else [t for t in task_list if tag_name(t) == "ac:task"]
    items = []
    for task in tasks:
        status = first_child(task, "ac:task-status")
        done = status is not None and text_of(status).strip().lower() == "complete"
        body = first_child(task, "ac:task-body")
        content = conv.blocks(body, depth + 1) if body is not None else []
        marker = "- [x] " if done else "- [ ] "
        if content and md.starts_block(content[0]):  # a body opening with a list (or code...) goes under the box
            items.append(marker.rstrip() + "\n" + md.indent(conv.list_item("", content), "  "))
        else:
            items.append(conv.list_item(marker, content, indent_width=2))
    return "\n".join(items)
