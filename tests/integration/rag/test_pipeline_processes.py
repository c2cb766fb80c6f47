"""The stages run in separate processes (as Airflow tasks do), handing over only staging files and stats dicts.

Each stage runs in a new forked process (the way Airflow's local task runner starts tasks), after the parent has
already used the shared pools: the child must open its own connections and must not disturb the parent's.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.pipeline.chunk import chunk_changes
from tenant_rag.pipeline.detect import detect_changes
from tenant_rag.pipeline.embed import embed_batch
from tenant_rag.pipeline.run import run_update
from tenant_rag.pipeline.staging import staging_for
from tenant_rag.pipeline.upsert import upsert_changes
from tenant_rag.query import CustomerQueryManager
from tenant_rag.runs.options import RunOptions
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    index_content,
    make_config,
    make_customer,
    rag_pools,  # noqa: F401 - fixture
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


def _stage(name: str, config_json: str, root: str, url: str, run_id: str) -> dict[str, Any]:
    """Runs in a fresh process: rebuild everything from plain arguments."""
    from tenant_rag.embedding.factory import get_embedder

    config = CustomerConfig.model_validate_json(config_json)
    customer_dir = Path(root)
    staging = staging_for(customer_dir, run_id)
    exports = customer_dir / "exports"
    if name == "detect":
        return detect_changes(config, customer_dir, exports, staging, RunOptions(), database_url=url)
    if name == "chunk":
        return chunk_changes(config, exports, staging, database_url=url)
    if name == "embed":
        embedder = get_embedder(config.rag, customer_id=config.customer_id)
        batches = len(list((staging.root / "embed").glob("texts_*.json")))
        return {"batches": [embed_batch(config, staging, index, embedder) for index in range(batches)]}
    return upsert_changes(config, customer_dir, staging, RunOptions(), database_url=url)


def test_each_stage_in_its_own_process_gives_the_same_index(pg_url: str, customers_dir: Path) -> None:
    config = make_config("procs", embedding_batch_size=3)
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_id = "manual__2026-01-01T00:00:00+00:00"
    context = multiprocessing.get_context("fork")
    CustomerQueryManager(pg_url).history(config)  # the parent holds pooled connections before forking
    results = {}
    for name in ("detect", "chunk", "embed", "upsert"):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            results[name] = pool.submit(_stage, name, config.model_dump_json(), str(root), pg_url, run_id).result()
        json.dumps(results[name])  # every stage returns plain JSON
        assert CustomerQueryManager(pg_url).history(config) == []  # the parent's pooled sessions still work
    assert results["detect"]["new"] == 4
    assert results["chunk"]["embed_batches"] == len(results["embed"]["batches"]) >= 2
    assert results["upsert"]["pages_written"] == 4 and results["upsert"]["switched"]
    staging = staging_for(root, run_id)
    assert staging.root.name == "manual__2026-01-01T00_00_00_00_00_" + staging.root.name.rsplit("_", 1)[1]
    staging.cleanup()
    in_process = make_config("procs-twin", embedding_batch_size=3)
    twin_root = make_customer(customers_dir, in_process)
    run_update(in_process, twin_root, root / "exports", database_url=pg_url)
    assert index_content(pg_url, "procs") == index_content(pg_url, "procs-twin")
    answer = CustomerQueryManager(pg_url).query(config, "schema registry compatibility", top_k=1)
    assert answer.documents[0].metadata["page_id"] == "k3"
