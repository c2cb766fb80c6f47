"""Stage 1: compare the export with the target generation and write ``changes.json`` (reads the database only)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tenant_rag.changes import ChangePlan, check_deletions, deleted_pages, plan_changes, scan_export
from tenant_rag.config import CustomerConfig
from tenant_rag.db import admin_connection
from tenant_rag.pipeline.staging import Staging
from tenant_rag.pipeline.stats import DetectStats
from tenant_rag.runs.options import RunOptions
from tenant_rag.store.generations import active_of, choose_target, list_generations, signature_for
from tenant_rag.store.reader import indexed_pages
from tenant_rag.store.registry import check_claimable
from tenant_rag.store.schema import store_names

PREVIEW_LIMIT = 100


def _run_spaces(config: CustomerConfig, options: RunOptions) -> list[str] | None:
    if options.space_keys is None:
        return None
    configured = config.space_keys
    unknown = [key for key in options.space_keys if configured is not None and key not in configured]
    if unknown:
        raise ValueError(
            f"customer {config.customer_id!r}: space keys {unknown} are not in the customer's export.space_keys "
            f"{configured}"
        )
    return list(options.space_keys)


def detect_changes(
    config: CustomerConfig,
    customer_dir: Path,
    export_dir: Path,
    staging: Staging,
    options: RunOptions,
    *,
    database_url: str,
) -> DetectStats:
    """Classify the export's pages; raise ``DeletionLimitExceeded`` (not in a dry run) when too many would go."""
    started = time.perf_counter()
    names = store_names(config)
    signature = signature_for(config.rag)
    run_spaces = _run_spaces(config, options)
    with admin_connection(database_url, customer_id=config.customer_id, action="change detection") as conn:
        check_claimable(conn, names)  # never plan against (or read) a store another customer owns
        generations = list_generations(conn, names)
        target = choose_target(generations, signature)
        indexed = indexed_pages(conn, names, target.generation) if target.status != "new" else {}
        active = active_of(generations)
        active_pages = indexed_pages(conn, names, active.number) if active and target.status != "active" else None
    if target.status != "active":
        run_spaces = None  # a new generation must hold every configured space before it may go live
    configured = config.space_keys
    scan = scan_export(export_dir, run_spaces if run_spaces is not None else configured)
    plan = plan_changes(
        scan, indexed, configured_spaces=configured, run_spaces=run_spaces, full_refresh=options.full_refresh
    )
    blocked = check_deletions(
        config.customer_id,
        len(plan.deleted),
        plan.indexed_total,
        config.rag.max_delete_ratio,
        force=options.force_delete,
    )
    lost_on_switch = 0
    if active_pages is not None:
        lost = deleted_pages(scan, active_pages, configured_spaces=configured, run_spaces=None)
        lost_on_switch = len(lost)
        blocked = blocked or check_deletions(
            config.customer_id,
            lost_on_switch,
            len(active_pages),
            config.rag.max_delete_ratio,
            force=options.force_delete,
        )
    blocked_message = str(blocked) if blocked else None
    changes = {
        "customer_id": config.customer_id,
        "options": options.to_dict(),
        "target": target.to_dict(),
        "active": {"generation": active.number, "model_id": active.signature.model_id} if active else None,
        "plan": plan.to_dict(),
        "deletion_blocked": blocked_message,
    }
    if blocked is not None and not options.dry_run:
        raise blocked
    staging.write_json(staging.changes, changes)
    staging.write_json(staging.target, changes["target"])
    staging.write_json(staging.upsert_plan, upsert_plan(changes))
    stats = summary(plan, options, target.generation, target.status, blocked_message)
    stats["lost_on_switch"] = lost_on_switch
    stats["duration_s"] = round(time.perf_counter() - started, 3)
    return stats


def upsert_plan(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes.json`` without its page lists (the upsert takes the pages from ``chunks.jsonl``)."""
    plan = changes["plan"]
    small = {key: value for key, value in changes.items() if key != "plan"}
    small["plan"] = {**plan, "new": [], "changed": [], "unchanged": []}
    small["pages_to_write"] = len(plan["new"]) + len(plan["changed"])
    return small


def summary(plan: ChangePlan, options: RunOptions, generation: int, status: str, blocked: str | None) -> DetectStats:
    stats: DetectStats = {
        "new": len(plan.new),
        "changed": len(plan.changed),
        "unchanged": len(plan.unchanged),
        "deleted": len(plan.deleted),
        "errors": plan.errors,
        "pages_total": plan.pages_total,
        "indexed_total": plan.indexed_total,
        "deletion_ratio": round(plan.deletion_ratio, 4),
        "deletion_blocked": blocked,
        "dry_run": options.dry_run,
        "generation": generation,
        "target_status": status,
        "permissions_changed": plan.permissions_changed,
        "pages_restricted": plan.pages_restricted,
        "pages_permissions_unknown": plan.pages_permissions_unknown,
    }
    if options.dry_run:
        stats["pages"] = {
            "new": [ref.page_id for ref in plan.new[:PREVIEW_LIMIT]],
            "changed": [ref.page_id for ref in plan.changed[:PREVIEW_LIMIT]],
            "deleted": plan.deleted[:PREVIEW_LIMIT],
        }
    return stats
