"""``export_customer``: mirror a customer's Confluence spaces into ``<customer>/exports/<space>/`` as Markdown.

One run = plan (id-only listings, scope, layout, CQL window, attachment and comment listings, who may read each
page: :mod:`permissions`) -> fetch and convert the pages that need it (a few threads, files written as results
arrive; footer comments appended when enabled) -> bring the pages' attachment documents up to date (see
:mod:`attachments`) -> move pages whose place in the tree changed -> delete what no longer exists -> rewrite the
front matter of pages whose readers changed (:mod:`readers_sync`) -> save the manifest. A listed page that cannot be
read (403, 404, a server error that outlasts the retries, an answer without a body) is recorded and the run goes on;
see :mod:`unreadable` for what happens to each. A missing space, bad credentials (401) or a failing listing stop the
run with a clear error.

Incremental runs write CQL dates in the indexing user's time zone, read from the site (``timeZone`` of the
current user); ``export.site_timezone`` is the fallback when the site does not say, and a warning when it
disagrees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tenant_rag.config import AttachmentsConfig, ConfluenceExportConfig, CustomerConfig
from tenant_rag.export import cql
from tenant_rag.export.attachment_links import AttachmentLinks
from tenant_rag.export.attachments import export_attachments
from tenant_rag.export.client import ConfluenceClient, SpaceMissing
from tenant_rag.export.client_flavors import make_client
from tenant_rag.export.errors import (
    ConfluenceAuthError,
    ConfluenceHTTPError,
    ExportError,
    PageForbiddenError,
    PageNotFoundError,
    SpaceNotFoundError,
)
from tenant_rag.export.http import RetryPolicy
from tenant_rag.export.manifest import ExportManifest, ManifestEntry
from tenant_rag.export.models import ConfluenceCredentials
from tenant_rag.export.moves import apply_tree_changes, prepare_moves
from tenant_rag.export.page_fetch import fetch_and_write
from tenant_rag.export.permissions import Membership, plan_readers
from tenant_rag.export.planning import SpacePlan, choose_fetches, plan_space, title_map
from tenant_rag.export.readers_sync import sync_readers
from tenant_rag.export.unreadable import Unreadable

log = logging.getLogger(__name__)
MAX_ERRORS_REPORTED = 50
MANIFEST_SAVE_SECONDS = 30.0


def _site_url(config: ConfluenceExportConfig, base_url: str | None) -> str:
    url = (base_url or config.base_url).rstrip("/")
    parts = urlsplit(url)
    if (
        config.flavor == "cloud"
        and parts.path in ("", "/")
        and parts.hostname
        and parts.hostname.endswith(".atlassian.net")
    ):
        url += "/wiki"
    return url


def _policy(config: ConfluenceExportConfig, override: RetryPolicy | None) -> RetryPolicy:
    if override is not None:
        return override
    return RetryPolicy(timeout_seconds=config.request_timeout_seconds, max_retries=config.max_retries)


def _cql_zone(
    client: ConfluenceClient, export: ConfluenceExportConfig, customer_id: str
) -> tuple[ZoneInfo | timezone, str, str]:
    """The zone CQL dates are written in, its name, and where it came from (``site`` or ``config``)."""
    configured = export.site_timezone
    reported = client.user_time_zone()
    if reported is None:
        log.info("customer %s: the site does not tell the user's time zone; CQL uses %s", customer_id, configured)
        return cql.site_zone(configured), configured, "config"
    try:
        zone = cql.site_zone(reported)
    except ValueError:
        log.warning("customer %s: unknown time zone %r from the site; CQL uses %s", customer_id, reported, configured)
        return cql.site_zone(configured), configured, "config"
    if "site_timezone" in export.model_fields_set and cql.site_zone(configured) != zone:
        log.warning(
            "customer %s: export.site_timezone %r disagrees with the indexing user's time zone %r on the site; "
            "CQL dates use the site's",
            customer_id,
            configured,
            reported,
        )
    return zone, reported, "site"


def export_customer(
    config: CustomerConfig,
    customer_dir: Path,
    *,
    credentials: ConfluenceCredentials,
    window: tuple[datetime, datetime] | None = None,
    space_keys: list[str] | None = None,
    base_url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    retry_policy: RetryPolicy | None = None,
    workers: int = 4,
) -> dict[str, Any]:
    """Mirror the customer's spaces into ``customer_dir/exports/<space>/``; returns small JSON-serialisable stats.

    ``window`` None is a full export; ``(start, end)`` an incremental one for pages modified in [start, end)
    (naive datetimes are UTC). Both list every space without bodies, so deletions and moves are mirrored and pages
    whose version the manifest already holds are skipped. ``space_keys`` narrows the run to some configured spaces;
    ``base_url`` overrides ``config.export.base_url``; ``progress(done, total)`` is called (from the calling thread)
    after each fetched page; ``retry_policy`` overrides the timeout/retry settings taken from the config.
    Raises ``SpaceNotFoundError``, ``ConfluenceAuthError``, ``ExportError``, or ``ConfluenceHTTPError`` when a listing
    fails after retries; a page that cannot be read is reported in ``stats["unreadable"]`` (and, unless it answered
    403 or 404, in ``stats["errors"]``) instead.
    """
    started = time.monotonic()
    export = config.export
    if not isinstance(export, ConfluenceExportConfig):
        raise ExportError(f"customer {config.customer_id!r}: export.source is {export.source!r}, not 'confluence'")
    if window is not None:
        try:
            cql.local_window(window[0], window[1], cql.site_zone(export.site_timezone))
        except ValueError as exc:
            raise ExportError(f"customer {config.customer_id!r}: {exc}") from None
    keys = list(space_keys) if space_keys else list(export.space_keys)
    unknown = sorted(set(keys) - set(export.space_keys))
    if unknown:
        raise ExportError(
            f"customer {config.customer_id!r}: space_keys {unknown} are not in export.space_keys {export.space_keys}"
        )
    customer_dir = Path(customer_dir)
    export_root = customer_dir / "exports"
    export_root.mkdir(parents=True, exist_ok=True)
    manifest = ExportManifest.load(customer_dir / "cache" / "export_manifest.json", export_root)
    site = _site_url(export, base_url)
    client = make_client(
        export.flavor, site, credentials, page_size=export.page_size, policy=_policy(export, retry_policy)
    )
    extra: dict[str, Any] = {}
    try:
        zone = cql.site_zone(export.site_timezone)
        if window is not None:
            zone, extra["cql_timezone"], extra["cql_timezone_source"] = _cql_zone(client, export, config.customer_id)
        plans = []
        for key in keys:
            try:
                space = client.get_space(key)
            except SpaceMissing:
                raise SpaceNotFoundError(config.customer_id, key, site) from None
            plans.append(plan_space(client, space, export, window, zone))
        if export.ancestor_id and not any(export.ancestor_id in plan.listing for plan in plans):
            raise ExportError(
                f"customer {config.customer_id!r}: export.ancestor_id {export.ancestor_id!r} is not a page of "
                f"spaces {keys}"
            )
        membership = Membership(client)
        for plan in plans:
            plan.readers = plan_readers(client, plan, membership)
        choose_fetches(plans, manifest, export_root, full=window is None)
        if window is not None:
            extra["pages_outside_window"] = sum(plan.outside_window for plan in plans)
            if extra["pages_outside_window"]:
                log.warning(
                    "customer %s: %d changed page(s) were not in the CQL window; fetched from the listing",
                    config.customer_id,
                    extra["pages_outside_window"],
                )
        stats = _run(client, plans, manifest, export_root, progress, workers, export.attachments)
    finally:
        client.close()
    stats.update(extra)
    stats.update(
        mode="full" if window is None else "incremental",
        spaces=keys,
        http_requests=client.http.requests,
        retries=client.http.retries,
        duration_s=round(time.monotonic() - started, 3),
    )
    log.info(
        "customer %s export: %s",
        config.customer_id,
        {k: v for k, v in stats.items() if k not in ("errors", "unreadable", "attachments_failed")},
    )
    return stats


def _run(
    client: ConfluenceClient,
    plans: list[SpacePlan],
    manifest: ExportManifest,
    export_root: Path,
    progress: Callable[[int, int], None] | None,
    workers: int,
    attachments: AttachmentsConfig,
) -> dict[str, Any]:
    links = title_map(plans, manifest)
    files = AttachmentLinks(plans, manifest, attachments, client.attachment_url)
    fresh: dict[str, ManifestEntry] = {}  # page id -> entry for pages fetched and written in this run
    errors: list[dict[str, str]] = []
    unreadable = Unreadable()
    total = sum(len(plan.fetch) for plan in plans)
    stats: dict[str, Any] = {"pages_listed": sum(len(p.scope) for p in plans), "pages_fetched": 0, "pages_written": 0}
    if progress:
        progress(0, total)
    moves = prepare_moves(plans, manifest, export_root)
    last_save = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="confluence-fetch")
    try:
        futures: dict[Future[Any], tuple[SpacePlan, str]] = {
            pool.submit(fetch_and_write, client, plan, page_id, links, export_root, moves, files): (plan, page_id)
            for plan in plans
            for page_id in plan.fetch
        }
        for done, future in enumerate(as_completed(futures), start=1):
            plan, page_id = futures[future]
            try:
                entry, written = future.result()
            except ConfluenceAuthError:  # 401: a page's 403 arrives as PageForbiddenError
                raise
            except Exception as exc:  # one bad page must not stop the export
                if not isinstance(exc, PageForbiddenError | PageNotFoundError):
                    log.warning("page %s in space %s failed: %s", page_id, plan.space.key, exc)
                    errors.append({"page_id": page_id, "space_key": plan.space.key, "error": str(exc)[:500]})
                unreadable.record(plan, page_id, exc)
            else:
                stats["pages_fetched"] += 1
                stats["pages_written"] += written
                fresh[page_id] = entry
                manifest.space(plan.space.key)[page_id] = entry
                if time.monotonic() - last_save > MANIFEST_SAVE_SECONDS:
                    manifest.save()
                    last_save = time.monotonic()
            if progress:
                progress(done, total)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # stop at once: pages not started yet are not fetched
        raise
    pool.shutdown(wait=True)
    unreadable.confirm_not_found(client)

    def alive(plan: SpacePlan, page_id: str) -> bool:
        known = page_id in fresh or page_id in moves.old[plan.space.key]
        return known and page_id in plan.scope and page_id not in unreadable.gone

    keep, attachment_stats = export_attachments(client, plans, manifest, export_root, alive, attachments, workers)
    stats.update(apply_tree_changes(plans, manifest, export_root, fresh, unreadable.gone, moves, keep))
    stats.update(attachment_stats)
    stats.update(sync_readers(plans, manifest, export_root, moves.old))
    manifest.unreadable.update(unreadable.by_space(plans))
    manifest.save()
    stats["errors"] = errors[:MAX_ERRORS_REPORTED]
    stats["errors_total"] = len(errors)
    stats["unreadable"] = [asdict(page) for page in unreadable.in_order()[:MAX_ERRORS_REPORTED]]
    stats["unreadable_total"] = len(unreadable.pages)
    return stats


__all__ = ["ConfluenceCredentials", "ConfluenceHTTPError", "SpaceNotFoundError", "export_customer"]
