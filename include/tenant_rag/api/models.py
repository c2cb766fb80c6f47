"""Request and response bodies of the API (these models are the OpenAPI schema)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from tenant_rag.constants import (
    MAX_ACCOUNT_ID_CHARS,
    MAX_GROUP_CHARS,
    MAX_IDENTITY_GROUPS,
    MAX_QUESTION_CHARS,
    MAX_SPACE_KEYS,
    MAX_TOP_K,
    SPACE_KEY_PATTERN,
)
from tenant_rag.runs.record import RunRecord, RunSummary

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RUN_ID_PATTERN = r"^[A-Za-z0-9_.:+~@-]{1,250}$"
RetrievalMode = Literal["vector", "lexical", "hybrid"]


class _Input(BaseModel):
    """Request bodies: unknown fields refused, no type coercion (``"3"`` is not an integer, ``1`` not a bool)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _space_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if not re.match(SPACE_KEY_PATTERN, key):
            raise ValueError(f"space key {key[:50]!r} is not a Confluence space key")
    if len(set(keys)) != len(keys):
        raise ValueError("space keys must not repeat")
    return keys


#: Confluence space keys of a request: each a valid key, none repeated.
SpaceKeys = Annotated[list[str], AfterValidator(_space_keys)]


class QueryUser(_Input):
    """The end user a query answers, asserted by the caller holding the customer's key (``rag.permissions``)."""

    account_id: str = Field(min_length=1, max_length=MAX_ACCOUNT_ID_CHARS, description="Confluence account id")
    groups: list[Annotated[str, Field(min_length=1, max_length=MAX_GROUP_CHARS)]] = Field(
        default_factory=list, max_length=MAX_IDENTITY_GROUPS, description="the groups the user belongs to"
    )


class QueryRequest(_Input):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="natural-language question")
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="parent documents to return (default: config)")
    space_keys: SpaceKeys | None = Field(
        None, min_length=1, max_length=MAX_SPACE_KEYS, description="only search these spaces"
    )
    mode: RetrievalMode | None = Field(None, description="retrieval mode (default: the customer's config)")
    user: QueryUser | None = Field(
        None,
        description="the end user asking: only pages they may read answer (required when the customer's "
        "rag.permissions is enforce; not used when it is off)",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        if "\x00" in value:
            raise ValueError("question must not contain NUL characters")
        return value


class QueryDocument(BaseModel):
    title: str | None
    url: str | None
    space_key: str | None
    heading_path: list[str]
    page_id: str | None
    score: float | None
    content: str


class QueryResponse(BaseModel):
    customer_id: str
    question: str
    mode: str | None
    top_k: int
    latency_ms: float = Field(description="time spent retrieving, in milliseconds")
    documents: list[QueryDocument]


class IndexSize(BaseModel):
    pages: int | None = None
    chunks: int | None = None
    bytes: int | None = None


class PermissionsStatus(BaseModel):
    """Page permissions (``rag.permissions``) as the last run that read them found them."""

    mode: Literal["off", "enforce"] | None
    pages_restricted: int | None
    pages_permissions_unknown: int | None
    synced_at: datetime | None


class StatusResponse(BaseModel):
    customer_id: str
    display_name: str | None
    dag_id: str
    status: str
    is_ready_for_queries: bool
    config_error: str | None = None
    embedding_model: str | None
    embedding_dimensions: int | None
    last_index_time: datetime | None
    last_success_time: datetime | None
    total_indexed_documents: int
    total_indexed_chunks: int
    last_error: str | None
    last_run_id: str | None
    last_run_stats: RunRecord | None
    progress: dict[str, Any] | None
    run_history: list[RunSummary]
    index: IndexSize
    permissions: PermissionsStatus | None = None


class CustomerSummary(BaseModel):
    customer_id: str
    display_name: str | None
    status: str
    is_ready_for_queries: bool
    total_indexed_documents: int
    total_indexed_chunks: int
    last_success_time: datetime | None
    config_error: str | None = None


class CustomerList(BaseModel):
    customers: list[CustomerSummary]


class IndexRequest(_Input):
    full_refresh: bool = Field(False, description="re-export and re-index everything")
    dry_run: bool = Field(False, description="report what would change, write nothing")
    space_keys: SpaceKeys | None = Field(None, min_length=1, max_length=MAX_SPACE_KEYS)


class BulkIndexRequest(_Input):
    customer_ids: list[str] | None = Field(
        None, min_length=1, max_length=10_000, description="customers to re-index; omit (null) for all"
    )
    full_refresh: bool = False
    dry_run: bool = False

    @field_validator("customer_ids")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        for customer_id in value or []:
            if not re.match(CUSTOMER_ID_PATTERN, customer_id):
                raise ValueError(f"{customer_id[:70]!r} is not a customer id")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("customer ids must not repeat")
        return value


class DagRun(BaseModel):
    """One DAG run as Airflow's REST API reports it."""

    model_config = ConfigDict(frozen=True)

    dag_id: str
    run_id: str
    state: str
    logical_date: str | None = None
    queued_at: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    conf: dict[str, Any] | None = None


class IndexRun(DagRun):
    customer_id: str
    stats: dict[str, Any] | None = Field(None, description="the run's stats once recorded in the customer state")


class BulkIndexItem(BaseModel):
    customer_id: str
    run_id: str | None = None
    state: str | None = None
    error: str | None = None


class BulkIndexResponse(BaseModel):
    triggered: int
    failed: int
    results: list[BulkIndexItem]


class DeleteIndexResponse(BaseModel):
    customer_id: str
    deleted: bool
    status: str


class Health(BaseModel):
    status: str
    detail: str | None = None
