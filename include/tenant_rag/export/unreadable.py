"""Listed pages an export cannot read, and what the run does with each. The policy (also in the README):

- 403: the indexing account can no longer see the page. It is removed from the export, and so from the index by
  the next stages, behind their deletion guard (``rag.max_delete_ratio``);
- 404: the page is deleted when a second listing of its space confirms it is gone; a page the listing still
  shows keeps its last good version and is tried again next run;
- a server error or timeout that outlasts the retries, or an answer without ``body.storage``: the last good
  version stays (the manifest keeps its version, so the next run fetches it again) and the page is also reported
  in the run's ``errors``.

Every such page is recorded (space, id, title from the listing, HTTP status, reason, action) in the manifest and
the run's stats. 401, an unknown space and a failing listing still stop the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tenant_rag.export.client import ConfluenceClient
from tenant_rag.export.errors import ConfluenceHTTPError, PageForbiddenError, PageNotFoundError, PageUnreadableError
from tenant_rag.export.manifest import UnreadablePage
from tenant_rag.export.planning import SpacePlan

log = logging.getLogger(__name__)


@dataclass
class Unreadable:
    """What one run could not read; ``gone`` (removed or deleted) feeds the tree changes as deletions."""

    pages: list[UnreadablePage] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    _not_found: dict[str, tuple[SpacePlan, list[str]]] = field(default_factory=dict)

    def record(self, plan: SpacePlan, page_id: str, exc: Exception) -> bool:
        """Note a failed fetch; False when ``exc`` is not about reading the page (a conversion bug, say)."""
        if isinstance(exc, PageNotFoundError):
            self._not_found.setdefault(plan.space.key, (plan, []))[1].append(page_id)
            return True
        if isinstance(exc, PageForbiddenError):
            self._add(plan, page_id, 403, "forbidden", "removed")
            self.gone.add(page_id)
            return True
        if isinstance(exc, PageUnreadableError):
            self._add(plan, page_id, exc.status, exc.reason, "kept")
            return True
        if isinstance(exc, ConfluenceHTTPError):
            self._add(plan, page_id, exc.status, "server_error", "kept")
            return True
        return False

    def confirm_not_found(self, client: ConfluenceClient) -> None:
        """List each space with 404s again: pages it no longer shows are deleted, the others kept."""
        for plan, page_ids in self._not_found.values():
            try:
                listed = {page.page_id for page in client.list_pages(plan.space, plan.statuses)}
            except ConfluenceHTTPError as exc:
                log.warning("space %s: could not list it again to confirm 404s: %s", plan.space.key, exc)
                listed = set(page_ids)
            for page_id in sorted(page_ids):
                if page_id in listed:
                    self._add(plan, page_id, 404, "not_found", "kept")
                else:
                    self._add(plan, page_id, 404, "deleted", "deleted")
                    self.gone.add(page_id)
        self._not_found.clear()

    def _add(self, plan: SpacePlan, page_id: str, status: int | None, reason: str, action: str) -> None:
        listed = plan.listing.get(page_id)
        page = UnreadablePage(page_id, plan.space.key, listed.title if listed else "", status, reason, action)
        log.warning("space %s: page %s (%r) unreadable: %s, %s", page.space_key, page_id, page.title, reason, action)
        self.pages.append(page)

    def in_order(self) -> list[UnreadablePage]:
        """By space, then page id (numeric order): stable whatever order the worker threads finished in."""
        return sorted(self.pages, key=lambda p: (p.space_key, len(p.page_id), p.page_id))

    def by_space(self, plans: list[SpacePlan]) -> dict[str, list[UnreadablePage]]:
        found: dict[str, list[UnreadablePage]] = {plan.space.key: [] for plan in plans}
        for page in self.in_order():
            found[page.space_key].append(page)
        return found
