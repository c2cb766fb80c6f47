"""Change detection without a database: classification, version gate, deletion scope and the safety ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.changes import (
    ChangePlan,
    DeletionLimitExceeded,
    check_deletions,
    page_ref,
    plan_changes,
    scan_export,
)
from tenant_rag.documents import read_page, render_page
from tenant_rag.store.reader import IndexedPage


def _write(root: Path, rel: str, meta: dict, body: str = "Body text.") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(meta, body), encoding="utf-8")
    return path


def _indexed(root: Path, rel: str, **override) -> IndexedPage:
    ref = page_ref(read_page(root / rel, root))
    values = {
        "page_id": ref.page_id,
        "space_key": ref.space_key,
        "rel_path": ref.rel_path,
        "version": ref.version,
        "content_hash": ref.content_hash,
        "meta_hash": ref.meta_hash,
        "chunks": 1,
    }
    return IndexedPage(**{**values, **override})


@pytest.fixture
def export(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    _write(root, "ENG/a.md", {"page_id": "a", "title": "A", "version": 1})
    _write(root, "ENG/b.md", {"page_id": "b", "title": "B", "version": 1})
    _write(root, "OPS/c.md", {"page_id": "c", "title": "C", "version": 1})
    (root / "OPS" / "plain.md").write_text("# Plain page\n\nNo front matter at all.\n", encoding="utf-8")
    return root


def test_new_changed_unchanged_deleted(export: Path) -> None:
    indexed = {
        "a": _indexed(export, "ENG/a.md"),
        "b": _indexed(export, "ENG/b.md", content_hash="old"),
        "gone": IndexedPage("gone", "ENG", "ENG/gone.md", 1, "h", "m", 2),
    }
    plan = plan_changes(scan_export(export, None), indexed, configured_spaces=None)
    assert [ref.page_id for ref in plan.new] == ["c", "path:OPS/plain.md"]
    assert [ref.page_id for ref in plan.changed] == ["b"] and "content" in plan.changed[0].reason
    assert plan.unchanged == ["a"] and plan.deleted == ["gone"]
    assert plan.pages_total == 4 and plan.indexed_total == 3
    assert ChangePlan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()


def test_version_gate_needs_a_content_change_too(export: Path) -> None:
    _write(export, "ENG/a.md", {"page_id": "a", "title": "A", "version": 5})  # same content, newer version
    indexed = {"a": _indexed(export, "ENG/a.md", version=1)}
    plan = plan_changes(scan_export(export, ["ENG"]), indexed, configured_spaces=None)
    assert plan.unchanged == ["a"] and not plan.changed
    _write(export, "ENG/a.md", {"page_id": "a", "title": "A", "version": 5}, "New body.")
    plan = plan_changes(scan_export(export, ["ENG"]), indexed, configured_spaces=None)
    assert [ref.page_id for ref in plan.changed] == ["a"]
    assert "version 1 -> 5" in plan.changed[0].reason


def test_metadata_changes_and_full_refresh_reprocess(export: Path) -> None:
    indexed = {"a": _indexed(export, "ENG/a.md"), "b": _indexed(export, "ENG/b.md")}
    _write(export, "ENG/a.md", {"page_id": "a", "title": "A", "version": 1, "url": "https://moved"})
    plan = plan_changes(scan_export(export, ["ENG"]), indexed, configured_spaces=None)
    assert [(ref.page_id, ref.reason) for ref in plan.changed] == [("a", "metadata")]
    plan = plan_changes(scan_export(export, ["ENG"]), indexed, configured_spaces=None, full_refresh=True)
    assert {ref.page_id for ref in plan.changed} == {"a", "b"} and not plan.unchanged


def test_removed_spaces_are_deleted_and_out_of_scope_spaces_are_kept(export: Path) -> None:
    indexed = {
        "a": _indexed(export, "ENG/a.md"),
        "c": _indexed(export, "OPS/c.md"),
        "hr1": IndexedPage("hr1", "HR", "HR/hr1.md", 1, "h", "m", 1),
    }
    plan = plan_changes(scan_export(export, ["ENG", "OPS"]), indexed, configured_spaces=["ENG", "OPS"])
    assert plan.deleted == ["hr1"]
    (export / "OPS" / "c.md").unlink()
    scoped = plan_changes(scan_export(export, ["ENG"]), indexed, configured_spaces=["ENG", "OPS"], run_spaces=["ENG"])
    assert scoped.deleted == ["hr1"]  # OPS is outside this run: c is not judged


def test_unreadable_files_are_errors_and_their_pages_are_kept(export: Path) -> None:
    indexed = {"b": _indexed(export, "ENG/b.md")}
    (export / "ENG" / "b.md").write_text("---\ntitle: [broken\n---\nx\n", encoding="utf-8")
    (export / "ENG" / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    _write(export, "ENG/dup.md", {"page_id": "a", "title": "Duplicate of a"})
    scan = scan_export(export, ["ENG"])
    errors = {error["file"]: error["error"] for error in scan.errors}
    assert set(errors) == {"ENG/b.md", "ENG/latin1.md", "ENG/dup.md"}
    assert "ENG/b.md" in errors["ENG/b.md"] and "not UTF-8" in errors["ENG/latin1.md"]
    assert "also used by ENG/a.md" in errors["ENG/dup.md"]
    plan = plan_changes(scan, indexed, configured_spaces=None)
    assert plan.deleted == [] and len(plan.errors) == 3


def test_the_deletion_ratio_guard() -> None:
    assert check_deletions("acme", 5, 10, 0.5, force=False) is None
    error = check_deletions("acme", 6, 10, 0.5, force=False)
    assert isinstance(error, DeletionLimitExceeded)
    assert "'acme'" in str(error) and "6 of 10" in str(error) and "0.60" in str(error)
    assert error.count == 6 and error.total == 10 and error.limit == 0.5
    assert check_deletions("acme", 6, 10, 0.5, force=True) is None
    assert check_deletions("acme", 0, 0, 0.0, force=False) is None
    assert check_deletions("acme", 1, 1, 0.99, force=False) is not None
