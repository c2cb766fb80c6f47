"""A customer whose first config was broken: the DAG that replaces its placeholder starts as its config says.

Airflow applies ``is_paused_upon_creation`` only when it first creates a DAG id, and the fixed DAG takes over the
placeholder's row. Each case parses the real DAG file into a DagBag and syncs it into Airflow's metadata DB the way
the DAG processor does (``sync_bag_to_db``), once with the broken config and once with the fixed one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag_airflow.config_error_dag import CONFIG_ERROR_TAG, declared_paused
from tenant_rag_airflow.dag_runner import dags_folder

DAG_FILE = dags_folder() / "tenant_rag_dags.py"
BAD_FIELD = "rag: {chunk_sise: 500}\n"  # an unknown key: a config error naming the field
BAD_YAML = "rag: {chunk_size: [oops\n"


def _sync() -> dict[str, tuple[bool, set[str]]]:
    """Parse the DAG file and write its DAGs to the metadata DB; ``{dag_id: (is_paused, tags)}`` afterwards."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    bag = DagBag(dag_folder=str(DAG_FILE), bundle_path=bundle.path, bundle_name=bundle.name)
    assert bag.import_errors == {}
    sync_bag_to_db(bag, bundle.name, None)
    with create_session() as session:
        models = [session.get(DagModel, dag_id) for dag_id in bag.dag_ids]
        return {m.dag_id: (m.is_paused, {t.name for t in m.tags}) for m in models if m is not None}


def _write_broken(customers_dir: Path, customer_id: str, tail: str) -> None:
    folder = customers_dir / customer_id
    folder.mkdir()
    (folder / "config.yaml").write_text(
        f"customer_id: {customer_id}\ndisplay_name: Broken\nexport: {{source: directory, path: docs}}\n{tail}",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("broken_tail", "fixed_paused"),
    [
        (BAD_FIELD, False),  # the file never mentions paused: the default, unpaused
        (f"paused: false\n{BAD_FIELD}", False),
        (f"paused: true\n{BAD_FIELD}", True),
        (f"paused: true   # keep it off until go-live\n{BAD_YAML}", True),  # read even when the YAML is broken
    ],
    ids=["default", "false", "true", "true-in-broken-yaml"],
)
def test_the_fixed_config_paused_takes_effect_after_a_placeholder(
    airflow_ready: None,
    customers_dir: Path,
    write_customer: Callable[..., CustomerConfig],
    broken_tail: str,
    fixed_paused: bool,
) -> None:
    customer_id = f"first_broken_{uuid.uuid4().hex[:8]}"  # the metadata DB is shared by the session: a new id
    dag_id = f"tenant_rag__{customer_id}"
    _write_broken(customers_dir, customer_id, broken_tail)
    with pytest.warns(UserWarning, match=customer_id):
        placeholder = _sync()[dag_id]
    assert CONFIG_ERROR_TAG in placeholder[1]
    assert placeholder[0] is fixed_paused, "the placeholder is created in the state the file asks for"

    write_customer(customer_id, {"source": "directory", "path": "docs"}, paused=fixed_paused)
    fixed = _sync()[dag_id]
    assert CONFIG_ERROR_TAG not in fixed[1] and customer_id in fixed[1]
    assert fixed[0] is fixed_paused


def test_an_existing_dags_pause_state_survives_a_broken_config(
    airflow_ready: None, customers_dir: Path, write_customer: Callable[..., CustomerConfig]
) -> None:
    """``paused`` only sets the state of a new DAG: the operator's toggle outlives a placeholder phase."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    customer_id = f"toggled_{uuid.uuid4().hex[:8]}"
    dag_id = f"tenant_rag__{customer_id}"
    write_customer(customer_id, {"source": "directory", "path": "docs"}, paused=True)
    assert _sync()[dag_id][0] is True
    with create_session() as session:  # the operator unpauses it (what the UI toggle writes)
        session.get(DagModel, dag_id).is_paused = False
    (customers_dir / customer_id / "config.yaml").write_text(
        f"customer_id: {customer_id}\ndisplay_name: X\npaused: true\nexport: {{source: directory}}\n", encoding="utf-8"
    )
    with pytest.warns(UserWarning, match=customer_id):
        placeholder = _sync()[dag_id]
    assert CONFIG_ERROR_TAG in placeholder[1] and placeholder[0] is False
    write_customer(customer_id, {"source": "directory", "path": "docs"}, paused=True)
    assert _sync()[dag_id][0] is False


def test_declared_paused_reads_what_it_can_and_errs_on_the_paused_side(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    assert declared_paused(path) is False  # unreadable: the config's default
    cases = {
        "customer_id: x\n": False,
        "paused: true\n": True,
        "paused: off\n": False,
        "paused: maybe\n": True,  # set, but not a boolean: paused
        "paused: true\nrag: {a: [\n": True,
        "rag: {a: [\n  paused: true\n": False,  # only a top-level key counts
        "paused: true\npaused: false\nrag: {a: [\n": False,  # the last one wins, as in YAML
        "- a list\n": False,
    }
    for text, expected in cases.items():
        path.write_text(text, encoding="utf-8")
        assert declared_paused(path) is expected, text
