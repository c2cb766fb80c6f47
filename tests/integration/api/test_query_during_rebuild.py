"""A query that arrives while the customer's index is being rebuilt (blue/green) is answered from the last
complete index.

The rebuild (a text-search configuration change makes the core build a new generation next to the live one) is
paused from its own progress callback after two pages were written into the new generation; while it waits, the
test queries through the API, then lets it finish and queries again.
"""

from __future__ import annotations

import threading

import psycopg
from psycopg import sql

from tenant_rag.api.keys import CustomerKeyStore
from tenant_rag.config import dump_customer_config
from tenant_rag.customers import CustomerManager
from tenant_rag.fsutil import atomic_write_text
from tenant_rag.naming import generate_collection_name
from tenant_rag.pipeline.run import run_update
from tenant_rag.runs.options import RunOptions
from tests.integration.api.api_support import KAFKA, build_index, client, make_customer
from tests.integration.api.conftest import ApiEnv


def generations(database_url: str, customer_id: str) -> dict[int, str]:
    table = sql.Identifier(generate_collection_name(customer_id), "index_meta")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(sql.SQL("SELECT generation, status FROM {} ORDER BY 1").format(table)).fetchall()
    return {int(number): str(status) for number, status in rows}


def ask(api_env: ApiEnv, customer_id: str) -> list[str]:
    with client(api_env.base_url, api_env.key(customer_id)) as http:
        response = http.post(
            f"/v1/customers/{customer_id}/query", json={"question": "how long are kafka messages kept?", "top_k": 4}
        )
    assert response.status_code == 200, response.text
    return [doc["title"] for doc in response.json()["documents"]]


def test_queries_during_a_blue_green_rebuild_use_the_live_generation(api_env: ApiEnv) -> None:
    folder = make_customer(api_env.customers_dir, "hooli", {"ENG": KAFKA})
    build_index(api_env.customers_dir, "hooli", api_env.database_url)
    api_env.keys.customers["hooli"] = CustomerKeyStore(api_env.customers_dir).create("hooli").key
    before = ask(api_env, "hooli")
    assert before[0] == "Kafka retention" and len(before) == 4
    assert generations(api_env.database_url, "hooli") == {1: "active"}

    config = CustomerManager(api_env.customers_dir).load("hooli")
    changed = config.model_copy(update={"rag": config.rag.model_copy(update={"text_search_config": "simple"})})
    atomic_write_text(folder / "config.yaml", dump_customer_config(changed))

    paused, resume = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "upsert" and done == 2 and not paused.is_set():
            paused.set()
            resume.wait(120)

    def rebuild() -> None:
        try:
            run_update(
                changed,
                folder,
                folder / "exports",
                RunOptions(full_refresh=True),
                database_url=api_env.database_url,
                progress=progress,
                pages_per_transaction=1,
            )
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            paused.set()

    worker = threading.Thread(target=rebuild, daemon=True)
    worker.start()
    try:
        assert paused.wait(120), "the rebuild never reached its upsert stage"
        assert not failures, failures
        assert generations(api_env.database_url, "hooli") == {1: "active", 2: "building"}
        during = [ask(api_env, "hooli") for _ in range(3)]
    finally:
        resume.set()
        worker.join(120)
    assert not failures, failures
    assert all(titles == before for titles in during)
    assert generations(api_env.database_url, "hooli") == {2: "active"}
    after = ask(api_env, "hooli")
    assert after[0] == "Kafka retention" and set(after) == set(before)
