"""Build one DAG per customer folder: ``load_customer_dags`` is all the DAG file calls.

Each config is loaded inside its own error boundary. A customer whose config (or schedule) is invalid gets a DAG
with its usual id whose only task fails with the validation message, and whose description and docs show that
message (naming the file and field). We chose this over an import error because import errors are per *file*:
with one factory file, raising would hide every customer's DAG; a placeholder keeps the broken customer visible
in the DAG list, its run history and its previous index intact, and it heals on the next parse after the fix.
The placeholder is built by ``config_error_dag``.

Parse-time cost: the config folder is globbed and each ``config.yaml`` parsed with pydantic; nothing touches a
database, a network, Variables or Connections, and the operators import their heavy libraries inside ``execute``.
When a task process parses the file for one DAG (``get_parsing_context().dag_id``), only that customer's folder
is read.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, TriggerRule
from airflow.sdk.definitions.param import ParamsDict

from tenant_rag.config import CONFIG_FILE, ConfluenceExportConfig, CustomerConfig, load_customer_config
from tenant_rag.errors import ConfigError
from tenant_rag.naming import dag_id_for
from tenant_rag.ownership import chosen_collections, chosen_collections_on_disk, collection_problem
from tenant_rag.paths import customers_dir as default_customers_dir
from tenant_rag_airflow.config_error_dag import build_config_error_dag
from tenant_rag_airflow.constants import (
    DAG_ID_PREFIX,
    DAG_TAG,
    EMBEDDING_POOL,
    MAX_RETRY_DELAY_SECONDS,
    RETRY_DELAY_SECONDS,
    TASK_CHUNK,
    TASK_DETECT,
    TASK_EMBED,
    TASK_EXPORT,
    TASK_RECORD,
    TASK_UPSERT,
    asset_uri,
)
from tenant_rag_airflow.dag_shards import active_shards, customer_folders, missing_files_note, shard_index_of, shard_of
from tenant_rag_airflow.operators import (
    ChunkOperator,
    DetectChangesOperator,
    EmbedBatchesOperator,
    ExportOperator,
    RecordStateOperator,
    UpsertOperator,
)
from tenant_rag_airflow.params import build_params

log = logging.getLogger(__name__)

_PASSTHROUGH_SCHEDULES = ("@once", "@continuous")


def timetable_for(config: CustomerConfig) -> CronDataIntervalTimetable | str | None:
    """Cron schedules get real data intervals (Airflow 3's default cron timetable has zero-length ones)."""
    if config.schedule is None or config.schedule in _PASSTHROUGH_SCHEDULES:
        return config.schedule
    timetable = CronDataIntervalTimetable(config.schedule, timezone="UTC")
    timetable.validate()
    return timetable


def _default_args(owner: str, retries: int) -> dict[str, Any]:
    return {
        "owner": owner,
        "retries": retries,
        "retry_delay": timedelta(seconds=RETRY_DELAY_SECONDS),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(seconds=MAX_RETRY_DELAY_SECONDS),
    }


def _doc(config: CustomerConfig) -> str:
    from tenant_rag.urls import public_url

    export = config.export
    if isinstance(export, ConfluenceExportConfig):
        source = f"Confluence {export.flavor} `{public_url(export.base_url)}` (connection `{export.conn_id}`)"
        spaces = ", ".join(f"`{key}`" for key in export.space_keys)
    else:
        source = f"Markdown folder `{export.path}`"
        spaces = ", ".join(f"`{key}`" for key in export.space_keys or []) or "every folder"
    return f"""### {config.display_name} (`{config.customer_id}`)

Indexes {source}, spaces {spaces}, into the customer's own pgvector store `{config.collection_name}`
(connection `{config.rag.db_conn_id}`, model `{config.rag.embedding_model}`).

export -> detect_changes -> chunk -> embed (mapped, pool `{EMBEDDING_POOL}`) -> upsert -> record_state

* Scheduled and backfill runs export the pages modified in the run's data interval; the first run, or
  **full_refresh**, exports everything; a manual run exports what changed since the last successful export.
* **space_keys** limits a run to some spaces, **dry_run** reports what would change and writes nothing,
  **force_delete** accepts deleting more than {config.rag.max_delete_ratio:.0%} of the indexed pages.
* Every run ends in `record_state`, which writes `state.json` and, only when the index changed (pages written or
  deleted, or a generation switched live), publishes the Asset `{asset_uri(config.customer_id)}` with the run's
  stats; a run that changed nothing, a dry run or a failed run publishes no event.
"""


def build_customer_dag(config: CustomerConfig, *, customers_dir: str | None = None) -> DAG:
    """The customer's DAG. ``customers_dir`` is baked into the tasks only when given (else resolved at run time)."""
    customer_id = config.customer_id
    common: dict[str, Any] = {"customer_id": customer_id, "customers_dir": customers_dir}
    with DAG(
        dag_id=dag_id_for(customer_id),
        description=f"tenantrag index of {config.display_name}",
        doc_md=_doc(config),
        schedule=timetable_for(config),
        start_date=config.start_date,
        catchup=config.catchup,
        max_active_runs=1,
        is_paused_upon_creation=config.paused,
        tags=list(dict.fromkeys([customer_id, DAG_TAG, *config.tags])),
        default_args=_default_args(config.owner, config.retries),
    ) as dag:
        export = ExportOperator(task_id=TASK_EXPORT, **common)
        detect = DetectChangesOperator(task_id=TASK_DETECT, **common)
        chunk = ChunkOperator(task_id=TASK_CHUNK, **common)
        embed = EmbedBatchesOperator.partial(
            task_id=TASK_EMBED,
            pool=EMBEDDING_POOL,
            map_index_template="batches {{ task.batch_indexes[0] }}-{{ task.batch_indexes[-1] }}",
            **common,
        ).expand(batch_indexes=chunk.output)
        upsert = UpsertOperator(task_id=TASK_UPSERT, trigger_rule=TriggerRule.NONE_FAILED, **common)
        record = RecordStateOperator(task_id=TASK_RECORD, trigger_rule=TriggerRule.ALL_DONE, **common)
        export >> detect >> chunk >> embed >> upsert >> record
    # The trigger form's Params go on the DAG only, after its tasks exist: a task created inside a DAG with Params
    # carries its own copy, and the DAG processor serialises (and JSON-schema checks) every copy, which made
    # serialisation ~8x the cost of building the DAG (bench/results/dag_parse.md). A run still sees them: Airflow
    # merges the DAG's Params under each task's (empty) own ones (``process_params``).
    dag.params = ParamsDict(build_params(config))
    return dag


def _config_paths(base: Path, only_dag_id: str | None, shard: tuple[int, int] | None) -> list[Path]:
    if only_dag_id is not None:
        if not only_dag_id.startswith(DAG_ID_PREFIX):
            return []
        candidate = base / only_dag_id.removeprefix(DAG_ID_PREFIX) / CONFIG_FILE
        if candidate.parent.parent == base and candidate.is_file():
            return [candidate] if in_shard(candidate.parent.name, shard) else []
    if shard is None:
        return sorted(base.glob(f"*/{CONFIG_FILE}")) if base.is_dir() else []
    # one directory listing, then only this shard's folders are looked into
    mine = (base / folder / CONFIG_FILE for folder in customer_folders(base) if in_shard(folder, shard))
    return [path for path in mine if path.is_file()]


def in_shard(folder: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of a customer folder to one of ``count`` DAG files (``shard=(index, count)``)."""
    if shard is None:
        return True
    index, count = shard
    return shard_of(folder, count) == index


def load_shard_dags(dag_file: str, *, only_dag_id: str | None = None) -> dict[str, DAG]:
    """The DAGs of the shard that ``dag_file`` (a shard file's name) stands for; see ``dag_shards``.

    The shard count comes from the number of customer folders (or ``TENANT_RAG_DAG_SHARDS``), so the same files
    serve 10 or 10,000 customers; a file above the count builds nothing.
    """
    base = default_customers_dir()
    folders = len(customer_folders(base))
    index, count = shard_index_of(dag_file), active_shards(dag_file, folders)
    if index == 0 and only_dag_id is None and (note := missing_files_note(Path(dag_file).parent, folders)):
        log.warning("%s", note)
    if index >= count:
        return {}
    return load_customer_dags(only_dag_id=only_dag_id, shard=(index, count))


def load_customer_dags(
    customers_dir: str | Path | None = None,
    *,
    only_dag_id: str | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, DAG]:
    """``{dag_id: DAG}`` for every ``<customers_dir>/*/config.yaml``, sorted by folder name.

    ``customers_dir`` defaults to ``TENANT_RAG_CUSTOMERS_DIR`` / ``data/customers`` (resolved again at run time);
    ``only_dag_id`` (the parsing context of a task process) limits the work to that customer. ``shard=(i, n)``
    keeps only the customers hashed to shard ``i`` of ``n``, so thousands of customers can be spread over ``n``
    small DAG files that the DAG processor parses (and serialises) in parallel.
    """
    explicit = str(customers_dir) if customers_dir is not None else None
    base = Path(customers_dir) if customers_dir is not None else default_customers_dir()
    dags: dict[str, DAG] = {}
    loaded: list[tuple[str, Path, CustomerConfig | Exception]] = []
    for path in _config_paths(base, only_dag_id, shard):
        folder = path.parent.name
        try:
            loaded.append((folder, path, load_customer_config(path)))
        except Exception as exc:  # one customer's problem must never hide the others
            loaded.append((folder, path, exc))
    configs = [item for _, _, item in loaded if isinstance(item, CustomerConfig)]
    complete = only_dag_id is None and shard is None  # else other customers' chosen names are read from disk
    claims: dict[str, list[str]] | None = chosen_collections(configs) if complete else None
    for folder, path, item in loaded:
        try:
            if isinstance(item, Exception):
                raise item
            config = item
            if config.rag.collection_name is not None:
                if claims is None:
                    claims = chosen_collections_on_disk(base)
                problem = collection_problem(base, config, claims)
                if problem is not None:
                    raise ConfigError(folder, path, [("rag.collection_name", problem)])
            try:
                timetable_for(config)
            except Exception as exc:
                raise ConfigError(
                    folder, path, [("schedule", f"{config.schedule!r} is not a schedule: {exc}")]
                ) from exc
            dag = build_customer_dag(config, customers_dir=explicit)
        except Exception as exc:  # one customer's problem must never hide the others
            dag = build_config_error_dag(folder, path, exc)
        dags[dag.dag_id] = dag
    return dags
