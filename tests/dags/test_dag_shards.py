"""The shipped shard files: every customer's DAG built exactly once, a task process builds only its own DAG in its
own file, shards stay bounded as customers grow, and the trigger form's Params live on the DAG only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from tenant_rag.config import CustomerConfig
from tenant_rag.constants import DAG_SHARD_SIZE_ENV, DAG_SHARDS_ENV, DEFAULT_SHARD_SIZE
from tenant_rag.errors import SettingsError
from tenant_rag_airflow.dag_bundle import CustomerShardsDagBundle
from tenant_rag_airflow.dag_shards import (
    SHIPPED_SHARD_FILES,
    customer_folders,
    files_present,
    missing_files_note,
    shard_count,
    shard_file_name,
    shard_index_of,
    shard_of,
    shards_wanted,
    stale_files,
    write_shard_files,
)

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
PARSING_CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


@pytest.fixture
def twelve_customers(
    write_customer: Callable[..., CustomerConfig], customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    monkeypatch.setenv(DAG_SHARD_SIZE_ENV, "4")  # 12 customers -> 3 active shard files
    ids = [f"cust{i:02d}" for i in range(12)]
    for customer_id in ids:
        write_customer(customer_id, {"source": "directory", "path": "docs"})
    return ids


def test_committed_shard_files_match_the_generator() -> None:
    assert stale_files(DAGS_DIR) == []
    assert len(list(DAGS_DIR.glob("tenant_rag_dags*.py"))) == SHIPPED_SHARD_FILES
    assert [shard_index_of(DAGS_DIR / shard_file_name(i)) for i in range(SHIPPED_SHARD_FILES)] == list(
        range(SHIPPED_SHARD_FILES)
    )


def test_shard_files_build_every_dag_exactly_once(twelve_customers: list[str]) -> None:
    bag = DagBag(dag_folder=str(DAGS_DIR))  # every shard file, as the dag-processor sees the folder
    assert bag.import_errors == {}  # a DAG id built by two files would be an import error
    assert sorted(bag.dag_ids) == [f"tenant_rag__{c}" for c in twelve_customers]
    per_file = Counter(Path(dag.fileloc).name for dag in bag.dags.values())
    assert set(per_file) == {shard_file_name(i) for i in range(3)}
    for customer_id in twelve_customers:
        assert Path(bag.dags[f"tenant_rag__{customer_id}"].fileloc).name == shard_file_name(shard_of(customer_id, 3))


def test_task_process_builds_only_its_dag_in_its_own_file(
    twelve_customers: list[str], customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another customer's config is garbage: a task process must not even read it
    (customers_dir / "cust03" / "config.yaml").write_bytes(b"\xff\xfe not yaml")
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "tenant_rag__cust07")
    owner = shard_file_name(shard_of("cust07", 3))
    assert DagBag(dag_folder=str(DAGS_DIR / owner)).dag_ids == ["tenant_rag__cust07"]
    for index in range(SHIPPED_SHARD_FILES):
        if shard_file_name(index) != owner:
            assert DagBag(dag_folder=str(DAGS_DIR / shard_file_name(index))).dag_ids == []
    bag = DagBag(dag_folder=str(DAGS_DIR))  # the CLI's way: the whole folder under the parsing context
    assert bag.dag_ids == ["tenant_rag__cust07"] and bag.captured_warnings == {}


def test_shards_stay_bounded_as_customers_grow() -> None:
    for customers in (1, 499, 1_000, 2_500, 10_000, SHIPPED_SHARD_FILES * DEFAULT_SHARD_SIZE):
        count = shard_count(customers)
        sizes = Counter(shard_of(f"customer-{i}", count) for i in range(customers))
        assert set(sizes) <= set(range(count))
        assert max(sizes.values()) <= 1.25 * DEFAULT_SHARD_SIZE, (customers, count, max(sizes.values()))
    assert shard_count(10_000) == 20 and shard_count(0) == 1
    assert shard_count(10 * SHIPPED_SHARD_FILES * DEFAULT_SHARD_SIZE) == SHIPPED_SHARD_FILES  # capped by the files
    assert shard_count(100_000, files=200) == 200  # ... and no longer once the bundle wrote the files wanted


def test_a_new_shard_takes_customers_only_from_the_others() -> None:
    names = [f"customer-{i}" for i in range(5_000)]
    before = {name: shard_of(name, 10) for name in names}
    after = {name: shard_of(name, 11) for name in names}
    moved = [name for name in names if before[name] != after[name]]
    assert all(after[name] == 10 for name in moved)
    assert len(moved) < 2 * len(names) / 11


def test_shard_count_can_be_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DAG_SHARDS_ENV, "8")
    assert shard_count(1) == 8 and shard_count(100_000) == 8
    monkeypatch.setenv(DAG_SHARDS_ENV, "zero")
    with pytest.raises(SettingsError, match=DAG_SHARDS_ENV):
        shard_count(10)


def test_customer_folders_lists_directories_only(tmp_path: Path) -> None:
    for name in ("b", "a", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert customer_folders(tmp_path) == ["a", "b"]
    assert customer_folders(tmp_path / "missing") == []


def test_params_live_on_the_dag_and_reach_every_task(twelve_customers: list[str]) -> None:
    from airflow.sdk.definitions.param import process_params

    dag = DagBag(dag_folder=str(DAGS_DIR / shard_file_name(shard_of("cust01", 3)))).dags["tenant_rag__cust01"]
    assert set(dag.params.dump()) == {"full_refresh", "space_keys", "dry_run", "force_delete"}
    for task in dag.tasks:
        assert not task.params  # no per-task copy to serialise
        resolved = process_params(dag, task, {"dry_run": True}, suppress_exception=False)
        assert resolved == {"full_refresh": False, "space_keys": [], "dry_run": True, "force_delete": False}


def test_shard_files_grow_with_the_customers_at_any_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert shards_wanted(100_000) == 200 and shards_wanted(16_001) == 33  # past the 32 shipped files
    folder = tmp_path / "dags"
    folder.mkdir()
    assert write_shard_files(folder, 0) == [shard_file_name(i) for i in range(SHIPPED_SHARD_FILES)]
    assert files_present(folder) == SHIPPED_SHARD_FILES and stale_files(folder) == []
    assert missing_files_note(folder, 100_000) is not None and missing_files_note(folder, 16_000) is None
    written = write_shard_files(folder, 100_000)
    assert written == [shard_file_name(i) for i in range(SHIPPED_SHARD_FILES, 200)]
    assert files_present(folder) == 200 and stale_files(folder) == [] and missing_files_note(folder, 100_000) is None
    assert write_shard_files(folder, 10) == []  # never shrinks: files above the count build nothing
    count = shard_count(100_000, files_present(folder))  # once: the folder does not change while counting
    sizes = Counter(shard_of(f"customer-{i}", count) for i in range(100_000))
    assert max(sizes.values()) <= 1.25 * DEFAULT_SHARD_SIZE
    # a file standing after a gap is stale (it would never be parsed as a shard)
    (folder / shard_file_name(150)).unlink()
    assert files_present(folder) == 150 and shard_file_name(151) in stale_files(folder)


def test_the_dag_bundle_writes_the_shard_files_the_customer_folders_want(
    tmp_path: Path, customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DAG_SHARD_SIZE_ENV, "2")
    for i in range(9):
        (customers_dir / f"cust{i}").mkdir()
    folder = tmp_path / "dags"
    folder.mkdir()
    bundle = CustomerShardsDagBundle(name="dags-folder", path=str(folder), min_files=1)
    bundle.initialize()
    assert files_present(folder) == 5  # ceil(9 / 2)
    (customers_dir / "cust9").mkdir()
    (customers_dir / "cust10").mkdir()
    bundle.refresh()
    assert sorted(p.name for p in folder.iterdir()) == sorted(shard_file_name(i) for i in range(6))
    assert stale_files(folder) == [shard_file_name(i) for i in range(6, SHIPPED_SHARD_FILES)]  # fewer than shipped


def test_shard_zero_warns_when_the_customers_want_more_files_than_present(
    twelve_customers: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tenant_rag_airflow.dag_builder import load_shard_dags

    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / shard_file_name(0)).write_text((DAGS_DIR / shard_file_name(0)).read_text(encoding="utf-8"))
    with caplog.at_level("WARNING", logger="tenant_rag_airflow.dag_builder"):
        dags = load_shard_dags(str(folder / shard_file_name(0)))
    assert sorted(dags) == [f"tenant_rag__{c}" for c in twelve_customers]  # one file present: it builds them all
    assert any("want 3 DAG shard files" in r.getMessage() and "holds 1" in r.getMessage() for r in caplog.records)
