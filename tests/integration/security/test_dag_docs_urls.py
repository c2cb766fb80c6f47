"""A base URL carrying a token must not reach the Airflow UI: the DAG docs show scheme://host[:port]/path only,
and a config refused for holding a credential shows the field, not the value, in its placeholder DAG."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from tenant_rag.config import CustomerConfig
from tenant_rag_airflow.dag_builder import build_customer_dag

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "tenant_rag_dags.py"
TOKEN = "ATATT3xTOKEN9value"


def test_dag_docs_print_the_base_url_without_user_info_or_query() -> None:
    # built in code (not from config.yaml, whose loader refuses this outright): the docs must still not leak it
    config = CustomerConfig.model_validate(
        {
            "customer_id": "acme",
            "display_name": "Acme",
            "export": {
                "source": "confluence",
                "base_url": f"https://{TOKEN}@acme.atlassian.net:8443/wiki?access_token={TOKEN}#top",
                "space_keys": ["ENG"],
            },
        }
    )
    dag = build_customer_dag(config)
    assert dag.doc_md is not None
    assert "`https://acme.atlassian.net:8443/wiki`" in dag.doc_md
    assert TOKEN not in dag.doc_md
    assert TOKEN not in (dag.description or "")


def test_refused_config_names_the_field_in_the_dag_but_not_the_token(customers_dir: Path) -> None:
    folder = customers_dir / "acme"
    folder.mkdir()
    raw = {
        "customer_id": "acme",
        "display_name": "Acme",
        "export": {
            "source": "confluence",
            "base_url": f"https://{TOKEN}@acme.atlassian.net/wiki",
            "space_keys": ["ENG"],
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.warns(UserWarning, match="export.base_url") as record:
        bag = DagBag(dag_folder=str(DAG_FILE))
    assert all(TOKEN not in str(warning.message) for warning in record)
    (dag,) = bag.dags.values()
    shown = f"{dag.doc_md}\n{dag.description}"
    assert "export.base_url" in shown
    assert "Airflow Connection" in shown
    assert TOKEN not in shown
