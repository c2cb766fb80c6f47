"""The DAG file as Airflow's DagBag sees it: one DAG per customer, the task graph, defaults, broken configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable

from tenant_rag.config import CustomerConfig
from tenant_rag_airflow.constants import EMBEDDING_POOL

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "tenant_rag_dags.py"
EXPECTED_EDGES = {
    "export": {"detect_changes"},
    "detect_changes": {"chunk"},
    "chunk": {"embed"},
    "embed": {"upsert"},
    "upsert": {"record_state"},
    "record_state": set(),
}
PARSING_CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


def _bag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE))


def _bag_warning_about(*customers: str) -> DagBag:
    """The DagBag of a folder with broken configs: each broken customer is reported as a warning."""
    with pytest.warns(UserWarning, match="invalid config|is not a schedule") as record:
        bag = _bag()
    reported = " ".join(str(w.message) for w in record)
    assert all(f"customer {c!r}" in reported for c in customers), reported
    return bag


@pytest.fixture
def two_customers(write_customer: Callable[..., CustomerConfig], customers_dir: Path) -> Path:
    write_customer(
        "acme",
        {"source": "confluence", "base_url": "https://acme.atlassian.net/wiki", "space_keys": ["ENG", "OPS"]},
        owner="platform-team",
        tags=["gold"],
        retries=3,
        schedule="0 3 * * *",
        catchup=True,
        paused=True,
    )
    write_customer("globex", {"source": "directory", "path": "docs"}, schedule=None)
    return customers_dir


def test_one_dag_per_customer_no_import_errors(two_customers: Path) -> None:
    bag = _bag()
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["tenant_rag__acme", "tenant_rag__globex"]
    assert bag.captured_warnings == {}


def test_task_graph_and_defaults(two_customers: Path) -> None:
    dag = _bag().dags["tenant_rag__acme"]
    assert dag is not None
    assert {task.task_id: set(task.downstream_task_ids) for task in dag.tasks} == EXPECTED_EDGES
    embed = dag.get_task("embed")
    assert embed.is_mapped and embed.pool == EMBEDDING_POOL
    assert str(dag.get_task("upsert").trigger_rule) in ("none_failed", "TriggerRule.NONE_FAILED")
    assert "all_done" in str(dag.get_task("record_state").trigger_rule).lower()
    assert dag.max_active_runs == 1
    assert dag.tags == {"acme", "tenant-rag", "gold"} or set(dag.tags) == {"acme", "tenant-rag", "gold"}
    assert dag.catchup is True and dag.is_paused_upon_creation is True
    assert dag.start_date is not None and dag.start_date.year == 2026
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == "0 3 * * *"
    assert "Acme" in (dag.doc_md or "") and "tenant-rag://acme/index" in (dag.doc_md or "")
    for task in dag.tasks:
        assert task.owner == "platform-team"
        assert task.retries == 3
        assert task.retry_exponential_backoff
        assert task.retry_delay == timedelta(seconds=60)
    params = dag.params.dump()
    assert params == {"full_refresh": False, "space_keys": [], "dry_run": False, "force_delete": False}
    space_schema = dag.params.get_param("space_keys").schema
    assert space_schema["items"]["enum"] == ["ENG", "OPS"] and space_schema["uniqueItems"] is True
    assert dag.get_task("record_state").outlets, "record_state publishes the index asset"


def test_space_keys_param_rejects_unknown_space(two_customers: Path) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = _bag().dags["tenant_rag__acme"].params
    params.validate()
    spaces = params.get_param("space_keys")
    assert spaces.resolve(["ENG"]) == ["ENG"]
    assert spaces.resolve(None) is None  # the UI sends null for an empty multi-select
    for wrong in (["HR"], ["ENG", "ENG"], "ENG"):
        with pytest.raises(ParamValidationError):
            spaces.resolve(wrong)


def test_directory_customer_without_schedule(two_customers: Path) -> None:
    dag = _bag().dags["tenant_rag__globex"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert dag.is_paused_upon_creation is False
    assert "pattern" in dag.params.get_param("space_keys").schema["items"]


def test_broken_config_leaves_others_and_names_file_and_field(two_customers: Path) -> None:
    bad = two_customers / "initech"
    bad.mkdir()
    (bad / "config.yaml").write_text(
        "customer_id: initech\ndisplay_name: Initech\nexport: {source: directory, path: docs}\n"
        "rag: {chunk_sise: 500}\n",
        encoding="utf-8",
    )
    broken_yaml = two_customers / "hooli"
    broken_yaml.mkdir()
    (broken_yaml / "config.yaml").write_text("customer_id: hooli\n  display_name: [oops\n", encoding="utf-8")

    bag = _bag_warning_about("initech", "hooli")
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["tenant_rag__acme", "tenant_rag__globex", "tenant_rag__hooli", "tenant_rag__initech"]
    assert set(bag.dags["tenant_rag__acme"].task_ids) == set(EXPECTED_EDGES)
    initech = bag.dags["tenant_rag__initech"]
    assert [t.task_id for t in initech.tasks] == ["config_error"]
    assert "config-error" in initech.tags
    for text in (initech.description, initech.doc_md):
        assert str(bad / "config.yaml") in text and "rag.chunk_sise" in text
    hooli = bag.dags["tenant_rag__hooli"]
    assert "not valid YAML" in hooli.description and str(broken_yaml / "config.yaml") in hooli.description
    warnings = " ".join(bag.captured_warnings[str(DAG_FILE)])
    assert "rag.chunk_sise" in warnings and "initech" in warnings


def test_config_error_task_fails_with_the_message(two_customers: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    bad = two_customers / "initech"
    bad.mkdir()
    (bad / "config.yaml").write_text("customer_id: initech\ndisplay_name: Initech\n", encoding="utf-8")
    task = _bag_warning_about("initech").dags["tenant_rag__initech"].get_task("config_error")
    with pytest.raises(AirflowFailException, match=r"export: Field required") as excinfo:
        task.execute(context={})
    assert str(bad / "config.yaml") in str(excinfo.value)


def test_invalid_schedule_is_a_config_error(write_customer: Callable[..., CustomerConfig], customers_dir: Path) -> None:
    write_customer("acme", {"source": "directory", "path": "docs"}, schedule="every tuesday")
    dag = _bag_warning_about("acme").dags["tenant_rag__acme"]
    assert [t.task_id for t in dag.tasks] == ["config_error"]
    assert "schedule: 'every tuesday' is not a schedule" in dag.description


def test_duplicate_collection_name_is_refused(
    write_customer: Callable[..., CustomerConfig], customers_dir: Path
) -> None:
    write_customer("acme", {"source": "directory", "path": "docs"}, rag={"collection_name": "shared_docs"})
    second = customers_dir / "globex"
    second.mkdir()
    (second / "config.yaml").write_text(
        "customer_id: globex\ndisplay_name: Globex\nexport: {source: directory, path: docs}\n"
        "rag: {collection_name: shared_docs}\n",
        encoding="utf-8",
    )
    bag = _bag_warning_about("globex")
    assert set(bag.dags["tenant_rag__acme"].task_ids) == set(EXPECTED_EDGES)
    globex = bag.dags["tenant_rag__globex"]
    assert [t.task_id for t in globex.tasks] == ["config_error"]
    assert "rag.collection_name" in globex.description and "acme" in globex.description


def test_parsing_context_builds_only_that_customer(two_customers: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # another customer's file is unreadable garbage: building only acme must not even look at it
    other = two_customers / "zeta"
    other.mkdir()
    (other / "config.yaml").write_bytes(b"\xff\xfe not yaml")
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "tenant_rag__acme")
    bag = _bag()
    assert bag.dag_ids == ["tenant_rag__acme"]
    assert bag.captured_warnings == {}
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "some_other_dag")
    assert _bag().dag_ids == []


def test_parse_time_imports_stay_light(two_customers: Path) -> None:
    """Parsing the DAG file imports none of the heavy libraries and opens no database connection."""
    probe = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
bag = DagBag(dag_folder={str(DAG_FILE)!r})
new = sorted(set(sys.modules) - before)
print(json.dumps({{"dags": sorted(bag.dag_ids), "errors": bag.import_errors, "new": new}}))
"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("include", "plugins", "."))
    # a vector-store connection that would fail if anything tried to use it at parse time
    env["AIRFLOW_CONN_TENANT_RAG_DB"] = "postgresql://nobody:wrong@127.0.0.1:1/nothing"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["errors"] == {} and result["dags"] == ["tenant_rag__acme", "tenant_rag__globex"]
    heavy = ("numpy", "psycopg", "psycopg2", "langchain", "langchain_core", "wordllama", "lxml", "httpx", "pgvector")
    loaded = {name.split(".")[0] for name in result["new"]}
    assert not loaded & set(heavy), f"heavy modules imported at parse time: {sorted(loaded & set(heavy))}"
    assert "airflow.providers.postgres" not in {".".join(n.split(".")[:3]) for n in result["new"]}


def test_shards_split_customers_disjointly(write_customer: Callable[..., CustomerConfig], customers_dir: Path) -> None:
    from tenant_rag_airflow.dag_builder import load_customer_dags

    ids = [f"cust{i:02d}" for i in range(12)]
    for customer_id in ids:
        write_customer(customer_id, {"source": "directory", "path": "docs"})
    shards = [set(load_customer_dags(shard=(i, 3))) for i in range(3)]
    assert set().union(*shards) == {f"tenant_rag__{c}" for c in ids}
    assert sum(len(s) for s in shards) == len(ids)
    owner = next(i for i, s in enumerate(shards) if "tenant_rag__cust05" in s)
    assert set(load_customer_dags(only_dag_id="tenant_rag__cust05", shard=(owner, 3))) == {"tenant_rag__cust05"}
    assert load_customer_dags(only_dag_id="tenant_rag__cust05", shard=((owner + 1) % 3, 3)) == {}
