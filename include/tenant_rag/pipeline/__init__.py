"""The indexing pipeline as separately callable stages: detect -> chunk -> embed (per batch) -> upsert.

Each stage may run in its own process (the Airflow DAG wraps each in a task): state passes only through files in a
run-scoped staging folder (``staging_for``) and through the small JSON-serialisable stats each stage returns
(``tenant_rag.pipeline.stats``).
``run_update`` (``pipeline.run``) runs them all in one process. Nothing is written to the database before
``upsert_changes``, and a dry run writes nothing at all (beyond its own staging folder, which ``run_update`` removes).

Import each stage from its own module (``pipeline.detect``, ``pipeline.chunk``, ...): this package imports nothing,
so an Airflow task (a new process each) loads only its own stage's libraries, not the chunk stage's text splitters.
"""
