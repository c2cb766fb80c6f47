"""Helpers that write Confluence storage-format snippets for the sample content (macros, links, tasks)."""

from __future__ import annotations

from html import escape


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def macro(name: str, *, body: str = "", plain: str | None = None, **params: str) -> str:
    parts = [f'<ac:structured-macro ac:name="{name}" ac:schema-version="1">']
    parts += [f'<ac:parameter ac:name="{key}">{escape(value)}</ac:parameter>' for key, value in params.items()]
    if plain is not None:
        parts.append(f"<ac:plain-text-body>{cdata(plain)}</ac:plain-text-body>")
    elif body:
        parts.append(f"<ac:rich-text-body>{body}</ac:rich-text-body>")
    parts.append("</ac:structured-macro>")
    return "".join(parts)


def code(language: str, text: str, title: str | None = None) -> str:
    params = {"language": language, **({"title": title} if title else {})}
    return macro("code", plain=text.strip("\n"), **params)


def panel(kind: str, html: str, title: str | None = None) -> str:
    """``kind`` is info, note, tip, warning or panel."""
    return macro(kind, body=html, **({"title": title} if title else {}))


def expand(title: str, html: str) -> str:
    return macro("expand", body=html, title=title)


def status(title: str, colour: str = "Grey") -> str:
    return macro("status", title=title, colour=colour)


def page_link(title: str, *, space: str | None = None, text: str | None = None) -> str:
    space_attr = f' ri:space-key="{space}"' if space else ""
    body = f"<ac:plain-text-link-body>{cdata(text)}</ac:plain-text-link-body>" if text else ""
    return f'<ac:link><ri:page{space_attr} ri:content-title="{escape(title)}" />{body}</ac:link>'


def user(account_id: str) -> str:
    return f'<ac:link><ri:user ri:account-id="{account_id}" /></ac:link>'


def tasks(*items: tuple[bool, str]) -> str:
    out = ["<ac:task-list>"]
    for number, (done, html) in enumerate(items, start=1):
        state = "complete" if done else "incomplete"
        out.append(
            f"<ac:task><ac:task-id>{number}</ac:task-id><ac:task-status>{state}</ac:task-status>"
            f"<ac:task-body>{html}</ac:task-body></ac:task>"
        )
    out.append("</ac:task-list>")
    return "".join(out)


def table(header: list[str], *rows: list[str]) -> str:
    head = "".join(f"<th><p>{cell}</p></th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td><p>{cell}</p></td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def two_columns(left: str, right: str) -> str:
    return (
        '<ac:layout><ac:layout-section ac:type="two_equal">'
        f"<ac:layout-cell>{left}</ac:layout-cell><ac:layout-cell>{right}</ac:layout-cell>"
        "</ac:layout-section></ac:layout>"
    )


def emoticon(name: str) -> str:
    return f'<ac:emoticon ac:name="{name}" />'
