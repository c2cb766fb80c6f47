"""Fetch one page, convert its storage body to Markdown and write it with front matter (a worker thread's job).

The converter gets what it needs through ``ConversionContext``: links to other exported pages relative to this
page, the site URL, attachment URLs and documents, and user display names (cached per run by the client). Footer
comments are appended when the customer enabled them.
"""

from __future__ import annotations

import functools
import posixpath
from pathlib import Path

from tenant_rag.export.attachment_links import AttachmentLinks
from tenant_rag.export.client import ConfluenceClient
from tenant_rag.export.comments import comments_markdown
from tenant_rag.export.manifest import ManifestEntry
from tenant_rag.export.moves import PreparedMoves, clear_case_rename
from tenant_rag.export.page_children import footer_comments
from tenant_rag.export.planning import SpacePlan
from tenant_rag.export.storage_markdown import ConversionContext, storage_to_markdown
from tenant_rag.export.writer import page_meta, write_page


def fetch_and_write(
    client: ConfluenceClient,
    plan: SpacePlan,
    page_id: str,
    links: dict[tuple[str, str], str],
    export_root: Path,
    moves: PreparedMoves,
    files: AttachmentLinks,
) -> tuple[ManifestEntry, bool]:
    """Fetch, convert and write one page (in a worker thread); raises ``PageUnreadableError`` and friends."""
    page = client.get_page(page_id, plan.space)
    rel = plan.paths[page_id]
    here = posixpath.dirname(rel)

    def resolve(space: str, title: str) -> str | None:
        target = links.get((space, title))
        return posixpath.relpath(target, here or ".") if target else None

    context = ConversionContext(
        space_key=plan.space.key,
        resolve_page=resolve,
        site_url=client.base_url,
        attachment_url=lambda name: client.attachment_url(page_id, name),
        user_name=client.user_name,
        attachment=functools.partial(files.attachment, page_id, rel),
        attachments_of=functools.partial(files.attachments_of, page_id, rel),
    )
    result = storage_to_markdown(page.storage, context)
    body = result.markdown
    if plan.comment_signature(page_id):  # the space's comment listing shows some: no request for pages without
        section = comments_markdown(footer_comments(client, page_id), context)
        body = f"{body.rstrip()}\n\n{section}\n" if section else body
    crumbs = plan.breadcrumbs(page_id)
    meta = page_meta(page, crumbs)
    meta["readers"] = plan.readers_of(page_id)
    clear_case_rename(moves, plan.space.key, page_id, rel, export_root)
    written = write_page(export_root, rel, meta, body)
    entry = ManifestEntry(
        page_id=page_id,
        version=page.version,
        path=rel,
        last_modified=meta["last_modified"],
        title=page.title,
        parent_id=page.parent_id,
        breadcrumbs=crumbs,
        labels=list(page.labels),
        links=sorted([space, title, links.get((space, title), "")] for space, title in result.page_links),
        comments=plan.comment_signature(page_id),
        readers=meta["readers"],
    )
    return entry, written
