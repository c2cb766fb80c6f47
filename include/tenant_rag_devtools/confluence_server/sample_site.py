"""A generated site as real ones are: hundreds of pages in a tree with Cloud folders, some restricted pages, files
of every readable type attached to pages, footer comments. The done-when test of the export and its benchmark
build the same site with this.

Every page, file and comment carries one made-up token of its own (``pgtk0007``, ``attk0003``, ``cmtk0012``) that
no other text contains, so a lexical query for it must return exactly that document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tenant_rag_devtools.confluence_server import sample_files
from tenant_rag_devtools.confluence_server.sample_storage import table
from tenant_rag_devtools.confluence_server.server import FakeConfluence

FILE_TYPES = ("pdf", "docx", "pptx", "xlsx", "csv", "txt", "md", "drawio")
TOPICS = ("Deploy", "Billing", "Search", "Storage", "Network", "Identity", "Payments", "Alerts")
SPACE = "OPS"
AUTHOR = "557058:site-commenter"
BUILT_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class SampleSite:
    """What was built: tokens by page / file / commented page, the restricted pages, folder ids."""

    space_key: str
    page_tokens: dict[str, str] = field(default_factory=dict)  # page id -> token in its body
    file_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # file id -> (page id, name, token)
    comment_tokens: dict[str, str] = field(default_factory=dict)  # page id -> token in its footer comment
    restricted: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    file_bytes: int = 0

    @property
    def readable_pages(self) -> dict[str, str]:
        return {page_id: token for page_id, token in self.page_tokens.items() if page_id not in self.restricted}


def _filler(lines: int, token: str) -> list[str]:
    return [f"Line {n} of the {token[:4]} appendix: routine operational notes." for n in range(lines)]


def file_data(kind: str, token: str, lines: int = 0) -> bytes:
    """A file of ``kind`` whose text holds ``token`` (and ``lines`` lines of filler, for size)."""
    sentence = f"The reference code of this file is {token}."
    extra = _filler(lines, token)
    if kind == "pdf":
        return sample_files.pdf_bytes([sentence, *extra])
    if kind == "docx":
        return sample_files.docx_bytes("Attachment", [sentence, *extra])
    if kind == "pptx":
        return sample_files.pptx_bytes([("Attachment", sentence), *[("More", line) for line in extra[:20]]])
    if kind == "xlsx":
        return sample_files.xlsx_bytes(
            {"Codes": [["what", "code"], ["reference", token], *[[x, n] for n, x in enumerate(extra)]]}
        )
    if kind == "csv":
        return "\n".join(["what,code", f"reference,{token}", *[f'"{x}",{n}' for n, x in enumerate(extra)]]).encode()
    if kind in ("txt", "md"):
        head = f"# Attachment\n\n{sentence}" if kind == "md" else sentence
        return "\n".join([head, *extra]).encode()
    if kind == "drawio":
        return sample_files.drawio_bytes([f"Service {token}", "Database", *extra[:20]])
    raise ValueError(f"unknown file type {kind!r}; expected one of {FILE_TYPES}")


def page_storage(number: int, token: str) -> str:
    topic = TOPICS[number % len(TOPICS)]
    body = (
        f"<h2>{topic} notes {number}</h2><p>This page describes how the {topic.lower()} team handles "
        f"routine work. Its reference code is {token}.</p>"
    )
    if number % 10 == 3:
        body += table(["Step", "Owner"], ["Check the dashboard", "on call"], ["Write the summary", "lead"])
    return body


def build_site(
    fake: FakeConfluence,
    pages: int = 500,
    *,
    restricted_every: int = 20,
    files_per_type: int = 4,
    comment_every: int = 10,
    file_lines: int = 0,
) -> SampleSite:
    """Fill ``fake`` with one space ``OPS``: ``pages`` pages (every ``restricted_every``-th restricted, 1 in 7 in
    one of three folders), ``files_per_type`` files of each of ``FILE_TYPES`` on readable pages, a footer comment
    on every ``comment_every``-th readable page. Pages are last modified on 2026-01-05 (UTC)."""
    fake.add_space(SPACE, "Operations")
    fake.add_user(AUTHOR, "Site Commenter")
    site = SampleSite(SPACE)
    ids: list[str] = []
    for number in range(pages):
        token = f"pgtk{number:04d}"
        if number == 0:
            parent = None
        elif number == 2:  # folders sit at the top, below another folder and below a page
            site.folders.append(fake.add_folder(SPACE, "Runbooks"))
            site.folders.append(fake.add_folder(SPACE, "Archive", parent_id=site.folders[0]))
            site.folders.append(fake.add_folder(SPACE, "Team notes", parent_id=ids[1]))
            parent = site.folders[0]
        elif number % 7 == 0:
            parent = site.folders[number // 7 % len(site.folders)]
        else:
            parent = ids[(number - 1) // 4]
        title = f"{TOPICS[number % len(TOPICS)]} {number:04d}"
        when = BUILT_AT + timedelta(minutes=number)
        page_id = fake.add_page(SPACE, title, page_storage(number, token), parent_id=parent, modified_at=when)
        ids.append(page_id)
        site.page_tokens[page_id] = token
        if (number + 1) % restricted_every == 0:
            fake.restrict_page(page_id)
            site.restricted.append(page_id)
    readable = [page_id for page_id in ids if page_id not in site.restricted]
    for n in range(files_per_type * len(FILE_TYPES)):
        kind = FILE_TYPES[n % len(FILE_TYPES)]
        token, page_id = f"attk{n:04d}", readable[(n * 13 + 5) % len(readable)]
        data = file_data(kind, token, file_lines)
        name = f"file-{n:03d}.{kind}"
        file_id = fake.attach(page_id, name, data, sample_files.MEDIA_TYPES[kind])
        site.file_tokens[file_id] = (page_id, name, token)
        site.file_bytes += len(data)
    for n, page_id in enumerate(readable[::comment_every]):
        token = f"cmtk{n:04d}"
        fake.add_comment(page_id, f"<p>Checked by the team, reference {token}.</p>", author_id=AUTHOR)
        site.comment_tokens[page_id] = token
    return site
