"""Customer configuration: ``data/customers/<customer_id>/config.yaml`` as pydantic models.

Every model forbids unknown keys. Secrets never live here: a key that looks like a credential, or a URL with a
password in it, is refused with a message pointing at Airflow Connections.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tenant_rag.config_secrets import find_secrets
from tenant_rag.constants import CONFLUENCE_CONN_ID, DB_CONN_ID, GEMINI_CONN_ID, MAX_TOP_K, SPACE_KEY_PATTERN
from tenant_rag.errors import ConfigError, InvalidCustomerIdError
from tenant_rag.naming import check_chosen_name, generate_collection_name, validate_customer_id
from tenant_rag.yamlio import load_yaml

CONFIG_FILE = "config.yaml"
OFFLINE_MODEL: Final = "wordllama-l2-256"
GEMINI_MODEL: Final = "gemini-embedding-001"
DEFAULT_DIMENSIONS = {OFFLINE_MODEL: 256, GEMINI_MODEL: 768}
HNSW_MAX_DIMENSIONS = 2000

_SPACE_KEY_RE = re.compile(SPACE_KEY_PATTERN)


class _FieldError(ValueError):
    """A cross-field check's error that names the field it is about (a model validator has no field of its own)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_space_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if not _SPACE_KEY_RE.match(key):
            raise ValueError(f"space key {key!r} is not a Confluence space key (letters, digits, '_', '-')")
    if len(set(keys)) != len(keys):
        raise ValueError("space keys must not repeat")
    return keys


AttachmentType = Literal["pdf", "docx", "pptx", "xlsx", "csv", "txt", "md", "drawio"]
ATTACHMENT_TYPES: Final = get_args(AttachmentType)


class AttachmentsConfig(_Model):
    """Which files attached to pages are exported as their own documents (their text, tied to the page)."""

    enabled: bool = True
    types: list[AttachmentType] = Field(
        default_factory=lambda: list(get_args(AttachmentType)),
        description=f"file types whose text is exported; any of {', '.join(ATTACHMENT_TYPES)}",
    )
    max_size_mb: float = Field(25.0, gt=0, le=1024, description="larger files are skipped (and reported)")

    @field_validator("types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("attachment types must not repeat")
        return value

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)


class ConfluenceExportConfig(_Model):
    """Export from Confluence Cloud (REST v2 + CQL) or Server/Data Center (REST v1)."""

    source: Literal["confluence"]
    flavor: Literal["cloud", "server"] = "cloud"
    base_url: str = Field(description="site URL, e.g. https://acme.atlassian.net/wiki")
    conn_id: str = Field(CONFLUENCE_CONN_ID, description="Airflow Connection with the credentials")
    space_keys: list[str] = Field(min_length=1)
    include_labels: list[str] = []
    exclude_labels: list[str] = []
    ancestor_id: str | None = None
    cql: str | None = Field(None, description="extra CQL ANDed to the page query")
    include_archived: bool = False
    page_size: int = Field(50, ge=1, le=250)
    site_timezone: str = Field(
        "UTC",
        description="time zone for CQL dates when the site does not report the indexing user's (Server/DC, a hidden "
        "Cloud profile zone); a value that disagrees with the site's is a warning",
    )
    request_timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)
    attachments: AttachmentsConfig = AttachmentsConfig()
    include_comments: bool = Field(False, description="index each page's footer comments with the page")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"base_url {value!r} must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("space_keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        return _check_space_keys(value)


class DirectoryExportConfig(_Model):
    """Index an existing Markdown tree (``<path>/<space>/...md``) instead of exporting from Confluence."""

    source: Literal["directory"]
    path: str = Field(description="folder with one sub-folder per space; relative paths are from the customer")
    space_keys: list[str] | None = None

    @field_validator("space_keys")
    @classmethod
    def _keys(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_space_keys(value)


ExportConfig = Annotated[ConfluenceExportConfig | DirectoryExportConfig, Field(discriminator="source")]


class RAGConfig(_Model):
    collection_name: str | None = Field(None, description="defaults to generate_collection_name(customer_id)")
    db_conn_id: str = DB_CONN_ID
    enable_parent_retriever: bool = True
    chunk_size: int = Field(1000, ge=100, le=8000)
    chunk_overlap: int = Field(100, ge=0)
    parent_chunk_size: int = Field(50000, ge=100, le=1_000_000)
    embedding_model: Literal["wordllama-l2-256", "gemini-embedding-001"] = OFFLINE_MODEL
    embedding_dimensions: int | None = Field(None, ge=8, le=HNSW_MAX_DIMENSIONS)
    embedding_conn_id: str = GEMINI_CONN_ID
    embedding_batch_size: int = Field(100, ge=1, le=100)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)
    retrieval_mode: Literal["vector", "lexical", "hybrid"] = "hybrid"
    text_search_config: str = Field("english", pattern=r"^[a-z_]+$")
    # BM25 of the lexical ranking: term-frequency saturation and length normalisation (Lucene's defaults)
    bm25_k1: float = Field(1.2, gt=0.0, le=10.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    max_delete_ratio: float = Field(0.5, ge=0.0, le=1.0)
    query_history_limit: int = Field(1000, ge=0, le=100_000)
    permissions: Literal["off", "enforce"] = Field(
        "off", description="off | enforce: answer only from pages the asking user may read (readers recorded at export)"
    )
    permissions_vector_search: Literal["exact", "hnsw"] = Field(
        "exact",
        description="under enforce, the vector side: exact (a scan of the user's readable chunks; its time tells "
        "nothing of where hidden pages lie) | hnsw (faster; walks past nearby hidden chunks, measurably)",
    )

    @field_validator("collection_name")
    @classmethod
    def _collection(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
            raise ValueError(f"collection_name {value!r} must be a lower-case identifier of at most 63 bytes")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> RAGConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size")
        if self.parent_chunk_size < self.chunk_size:
            raise ValueError(f"parent_chunk_size ({self.parent_chunk_size}) must be >= chunk_size")
        if self.embedding_model == OFFLINE_MODEL and self.embedding_dimensions not in (None, 256):
            raise ValueError(f"{OFFLINE_MODEL} produces 256 dimensions, not {self.embedding_dimensions}")
        return self

    @property
    def dimensions(self) -> int:
        return self.embedding_dimensions or DEFAULT_DIMENSIONS[self.embedding_model]


class CustomerConfig(_Model):
    customer_id: str
    display_name: str = Field(min_length=1, max_length=200)
    owner: str = "tenant-rag"
    tags: list[str] = []
    schedule: str | None = "@daily"
    start_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    catchup: bool = False
    retries: int = Field(2, ge=0, le=10)
    paused: bool = False
    export: ExportConfig
    rag: RAGConfig = RAGConfig()

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, value: str) -> str:
        try:
            return validate_customer_id(value)
        except InvalidCustomerIdError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("start_date")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _chosen_collection(self) -> CustomerConfig:
        """A chosen collection name is the customer's own default or a name of no reserved shape."""
        chosen = self.rag.collection_name
        if chosen is not None and chosen != generate_collection_name(self.customer_id):
            try:
                check_chosen_name(chosen)
            except ValueError as exc:
                raise _FieldError("rag.collection_name", str(exc)) from None
        return self

    @property
    def collection_name(self) -> str:
        return self.rag.collection_name or generate_collection_name(self.customer_id)

    @property
    def space_keys(self) -> list[str] | None:
        return self.export.space_keys


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        message = item["msg"].removeprefix("Value error, ")
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, _FieldError):
            field, message = cause.field, str(cause)
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see README 'Configuration')"
        problems.append((field, message))
    return problems


def parse_customer_config(raw: Any, *, customer_id: str, path: Path | str) -> CustomerConfig:
    """Validate an already-loaded mapping; raise ``ConfigError`` naming customer, file and fields."""
    if not isinstance(raw, dict):
        raise ConfigError(customer_id, path, [("", f"expected a mapping at the top, got {type(raw).__name__}")])
    secrets = find_secrets(raw)
    if secrets:
        raise ConfigError(customer_id, path, secrets)
    try:
        config = CustomerConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(customer_id, path, _pydantic_problems(exc)) from None
    if config.customer_id != customer_id:
        raise ConfigError(
            customer_id,
            path,
            [
                (
                    "customer_id",
                    f"is {config.customer_id!r} but the folder is named {customer_id!r}; they must agree",
                )
            ],
        )
    return config


def load_customer_config(path: Path | str) -> CustomerConfig:
    """Load ``<customers>/<customer_id>/config.yaml``; the folder name is the expected customer id."""
    path = Path(path)
    customer_id = path.parent.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(customer_id, path, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(customer_id, path, [("", f"cannot read: {exc}")]) from None
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(customer_id, path, [("", f"not valid YAML{where}: {getattr(exc, 'problem', exc)}")]) from None
    return parse_customer_config(raw, customer_id=customer_id, path=path)


def dump_customer_config(config: CustomerConfig) -> str:
    data = config.model_dump(mode="json", exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
