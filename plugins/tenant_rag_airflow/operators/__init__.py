"""One operator per pipeline stage: export, detect changes, chunk, embed (mapped), upsert, record state."""

from __future__ import annotations

from tenant_rag_airflow.operators.chunk import ChunkOperator, DetectChangesOperator
from tenant_rag_airflow.operators.config_error import ConfigErrorOperator
from tenant_rag_airflow.operators.embed import EmbedBatchesOperator
from tenant_rag_airflow.operators.export import ExportOperator
from tenant_rag_airflow.operators.record_state import RecordStateOperator
from tenant_rag_airflow.operators.upsert import UpsertOperator

__all__ = [
    "ChunkOperator",
    "ConfigErrorOperator",
    "DetectChangesOperator",
    "EmbedBatchesOperator",
    "ExportOperator",
    "RecordStateOperator",
    "UpsertOperator",
]
