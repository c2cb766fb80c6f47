"""Staging folders and run options: names derived from run ids, locations, JSON round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tenant_rag.pipeline.staging import new_run_id, staging_for
from tenant_rag.runs.options import RunOptions


def test_staging_defaults_to_the_customer_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANT_RAG_STAGING_DIR", raising=False)
    staging = staging_for(tmp_path / "acme", "run_1")
    assert staging.root == tmp_path / "acme" / "cache" / "staging" / "run_1"


def test_staging_env_base_is_per_customer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_RAG_STAGING_DIR", str(tmp_path / "shared"))
    assert staging_for(tmp_path / "acme", "r").root == tmp_path / "shared" / "acme" / "r"
    assert staging_for(tmp_path / "acme", "r", base=tmp_path / "x").root == tmp_path / "x" / "r"


@pytest.mark.parametrize("run_id", ["scheduled__2026-01-01T00:00:00+00:00", "../../etc", "a/b\\c", "", "x" * 300])
def test_run_ids_become_safe_distinct_folder_names(tmp_path: Path, run_id: str) -> None:
    staging = staging_for(tmp_path / "acme", run_id)
    assert staging.root.parent == tmp_path / "acme" / "cache" / "staging"
    assert "/" not in staging.root.name and ".." not in staging.root.name and len(staging.root.name) <= 80
    assert staging.root.name != staging_for(tmp_path / "acme", run_id + "2").root.name


def test_staging_files_round_trip_and_cleanup(tmp_path: Path) -> None:
    staging = staging_for(tmp_path / "acme", new_run_id())
    staging.write_json(staging.changes, {"a": 1})
    staging.save_array(staging.vectors(3), np.eye(3, dtype=np.float32))
    assert staging.read_json(staging.changes) == {"a": 1}
    assert staging.load_array(staging.vectors(3)).tolist() == np.eye(3).tolist()
    staging.cleanup()
    assert not staging.root.exists()
    with pytest.raises(FileNotFoundError, match="previous stage"):
        staging.read_json(staging.changes)


def test_run_options_round_trip() -> None:
    options = RunOptions(full_refresh=True, space_keys=["ENG"], force_delete=True)
    assert RunOptions(**json.loads(json.dumps(options.to_dict()))) == options  # as changes.json keeps them


def test_the_upsert_plan_is_the_change_plan_without_its_page_lists(tmp_path: Path) -> None:
    from tenant_rag.changes import ChangePlan, PageRef
    from tenant_rag.pipeline.detect import upsert_plan

    ref = PageRef(page_id="1", space_key="ENG", rel_path="ENG/a.md", version=2, content_hash="h", meta_hash="m")
    plan = ChangePlan(new=[ref], changed=[ref], unchanged=["3"], deleted=["4"], pages_total=3, indexed_total=2)
    changes = {
        "customer_id": "acme",
        "options": {"dry_run": False},
        "target": {"generation": 1},
        "plan": plan.to_dict(),
    }
    small = upsert_plan(changes)
    assert small["pages_to_write"] == 2
    assert small["plan"]["new"] == small["plan"]["changed"] == small["plan"]["unchanged"] == []
    assert small["plan"]["deleted"] == ["4"] and small["plan"]["indexed_total"] == 2
    assert small["options"] == changes["options"] and small["target"] == changes["target"]
    assert "plan" in changes and changes["plan"]["new"]  # the chunk stage's copy keeps its pages
    staging = staging_for(tmp_path / "acme", new_run_id())
    staging.write_json(staging.upsert_plan, small)
    assert staging.read_json(staging.upsert_plan) == small
