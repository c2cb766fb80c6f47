"""Plan one export run: list each space without bodies, decide its scope, lay out paths, choose what to fetch.

Fetch rules (both modes skip a page whose version and title the manifest already has, unless its file is missing):
- both modes: every page in scope whose listed version or title differs from the manifest, and pages the export
  tree lacks altogether. The id-only listing is the truth: a page edited, renamed or moved outside the CQL
  ``lastmodified`` window, or restored from the trash with its old modification time, is still fetched;
- full: also every page when the converter changed;
- either mode: pages that link to a page whose exported path changed, so their relative links stay right;
- with ``export.include_comments``: pages whose comments (ids and versions, one CQL listing per space) differ from
  those their file holds; turning comments off re-renders the pages that hold some.

On Cloud, pages under a folder (or whiteboard, database, embed) keep it as their parent: the containers are read
(v2 ``folders/{id}``...) and take part in paths and breadcrumbs without being exported themselves.

The incremental CQL window (dates in the indexing user's time zone) is still queried and logged: pages the listing
shows changed but the window did not return are counted (``outside_window``), a sign of a wrong time zone or an
edit older than the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tenant_rag.config import ConfluenceExportConfig
from tenant_rag.export import cql
from tenant_rag.export.client import ConfluenceClient
from tenant_rag.export.layout import TreeNode, breadcrumbs, plan_paths
from tenant_rag.export.manifest import ExportManifest, ManifestEntry
from tenant_rag.export.models import AttachmentInfo, PageSummary, SpaceInfo, TreeContainer
from tenant_rag.export.page_children import comment_versions, get_container, list_attachments
from tenant_rag.permissions import UNKNOWN, Readers


@dataclass
class SpacePlan:
    space: SpaceInfo
    listing: dict[str, PageSummary]
    scope: set[str]
    paths: dict[str, str]  # page id -> path relative to exports/ ("ENG/Parent/Child.md"), for every listed page
    statuses: list[str] = field(default_factory=lambda: ["current"])
    window_ids: set[str] | None = None
    fetch: list[str] = field(default_factory=list)
    outside_window: int = 0  # fetched because the listing shows a change the CQL window did not return
    containers: dict[str, TreeContainer] = field(default_factory=dict)  # Cloud folders etc. above listed pages
    attachments: list[AttachmentInfo] | None = None  # None: attachments are not exported
    comments: dict[str, list[str]] | None = None  # page id -> "comment id:version"; None: comments are off
    readers: dict[str, Readers] = field(default_factory=dict)  # page id -> who may read it (``export.permissions``)

    _titles: dict[str, str] = field(init=False, repr=False)
    _parents: dict[str, str | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:  # built once, before worker threads read them
        self._titles = {pid: page.title for pid, page in self.listing.items()}
        self._parents = {pid: page.parent_id for pid, page in self.listing.items()}
        for cid, container in self.containers.items():
            self._titles.setdefault(cid, container.title)
            self._parents.setdefault(cid, container.parent_id)

    def breadcrumbs(self, page_id: str) -> list[str]:
        return breadcrumbs(page_id, self._titles, self._parents)

    def comment_signature(self, page_id: str) -> list[str]:
        return (self.comments or {}).get(page_id, [])

    def readers_of(self, page_id: str) -> dict[str, Any] | str:
        """The page's readers as its front matter and manifest entry hold them (unknown when never read)."""
        return self.readers.get(page_id, UNKNOWN).to_json()


def _descendants(root_id: str, parents: dict[str, str | None]) -> set[str]:
    children: dict[str, list[str]] = {}
    for node_id, parent_id in parents.items():
        if parent_id:
            children.setdefault(parent_id, []).append(node_id)
    found, stack = {root_id}, [root_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def plan_space(
    client: ConfluenceClient,
    space: SpaceInfo,
    config: ConfluenceExportConfig,
    window: tuple[datetime, datetime] | None,
    zone: ZoneInfo | timezone,
) -> SpacePlan:
    """List the space and decide its scope; ``zone`` is the time zone the window's CQL dates are written in."""
    statuses = ["current", "archived"] if config.include_archived else ["current"]
    listing = {page.page_id: page for page in client.list_pages(space, statuses)}
    containers = _containers(client, listing)
    parents = {pid: page.parent_id for pid, page in listing.items()}
    parents.update({cid: container.parent_id for cid, container in containers.items()})
    scope = set(listing)
    if config.ancestor_id:
        scope = _descendants(config.ancestor_id, parents) & set(listing) if config.ancestor_id in listing else set()
    extra = f"({config.cql})" if config.cql else None
    labels = cql.label_scope(config.include_labels, config.exclude_labels)
    if labels or extra:
        scope &= set(client.search_ids(cql.combine(cql.space_pages(space.key), labels, extra)))
    nodes = [TreeNode(page.page_id, page.title, page.parent_id) for page in listing.values()]
    nodes += [TreeNode(c.container_id, c.title, c.parent_id) for c in containers.values()]
    paths = {node_id: f"{space.key}/{rel}" for node_id, rel in plan_paths(nodes).items() if node_id in listing}
    plan = SpacePlan(space=space, listing=listing, scope=scope, paths=paths, statuses=statuses, containers=containers)
    if config.attachments.enabled:
        plan.attachments = list_attachments(client, space)
    if config.include_comments:
        plan.comments = comment_versions(client, space)
    if window is not None:
        query = cql.combine(cql.space_pages(space.key), cql.window_clause(window[0], window[1], zone), extra)
        plan.window_ids = set(client.search_ids(query))
    return plan


def _containers(client: ConfluenceClient, listing: dict[str, PageSummary]) -> dict[str, TreeContainer]:
    """The folders (whiteboards, databases, embeds) above listed pages, each read once, up to the top."""
    found: dict[str, TreeContainer] = {}
    wanted = [(p.parent_type, p.parent_id) for p in listing.values() if p.parent_id and p.parent_type != "page"]
    missing: set[str] = set()
    while wanted:
        kind, container_id = wanted.pop()
        if not container_id or container_id in found or container_id in missing or container_id in listing:
            continue
        container = get_container(client, kind, container_id)
        if container is None:
            missing.add(container_id)
            continue
        found[container_id] = container
        if container.parent_id and container.parent_type and container.parent_type != "page":
            wanted.append((container.parent_type, container.parent_id))
    return found


def title_map(plans: list[SpacePlan], manifest: ExportManifest) -> dict[tuple[str, str], str]:
    """(space, title) -> exported path after this run: planned spaces from the plan, others from the manifest."""
    planned = {plan.space.key for plan in plans}
    mapping = {
        (key, entry.title): entry.path
        for key, pages in manifest.spaces.items()
        if key not in planned
        for entry in pages.values()
    }
    for plan in plans:
        for page_id in plan.scope:
            mapping[(plan.space.key, plan.listing[page_id].title)] = plan.paths[page_id]
    return mapping


def _changed(entry: ManifestEntry | None, page: PageSummary, full: bool, stale_converter: bool) -> bool:
    if entry is None:
        return True
    return entry.version != page.version or entry.title != page.title or (full and stale_converter)


def _links_moved(entry: ManifestEntry | None, targets: dict[tuple[str, str], str]) -> bool:
    """A linked page now lives elsewhere (or appeared/vanished) than where the page's links point."""
    if entry is None:
        return False
    return any(targets.get((link[0], link[1])) != (link[2] or None) for link in entry.links if len(link) == 3)


def choose_fetches(plans: list[SpacePlan], manifest: ExportManifest, export_root: Path, *, full: bool) -> None:
    """Fill ``plan.fetch`` for every space (sorted by page id for a stable order)."""
    targets = title_map(plans, manifest)
    stale_converter = manifest.converter_version != ExportManifest(manifest.path).converter_version
    for plan in plans:
        known = manifest.space(plan.space.key)
        fetch = []
        plan.outside_window = 0
        for page_id in plan.scope:
            page = plan.listing[page_id]
            entry = known.get(page_id)
            missing = entry is None or not (export_root / entry.path).is_file()
            changed = _changed(entry, page, full, stale_converter)
            comments_changed = entry is not None and entry.comments != plan.comment_signature(page_id)
            if missing or changed or comments_changed or _links_moved(entry, targets):
                fetch.append(page_id)
            if entry is not None and changed and plan.window_ids is not None and page_id not in plan.window_ids:
                plan.outside_window += 1
        plan.fetch = sorted(fetch, key=lambda pid: (len(pid), pid))
