"""API settings: one pydantic-settings object read from ``TENANT_RAG_API_*`` environment variables.

Secrets are never stored in plain text: the admin key is configured by its hash (``TENANT_RAG_ADMIN_KEY_HASH``
or the file written by ``python -m tenant_rag set-admin-key``), and a plaintext key put where a hash belongs is
refused with a message saying how to make the hash. Build settings lazily with ``get_settings()``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenant_rag.paths import customers_dir, run_dir

# Hard upper bounds: the OpenAPI schema states these; settings may only tighten them.
MAX_QUESTION_CHARS = 4000
MAX_TOP_K = 50
HASH_RE = re.compile(r"^sha256\$[0-9a-f]{64}$")


class ApiSettings(BaseSettings):
    """Everything the API needs; every field can be set as ``TENANT_RAG_API_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TENANT_RAG_API_", extra="forbid", frozen=True, validate_by_name=True)

    customers_dir: Path | None = Field(None, description="defaults to tenant_rag.paths.customers_dir()")
    database_url: SecretStr | None = Field(None, description="libpq URL; default: resolve db_conn_id")
    db_conn_id: str = "tenant_rag_db"
    start_embedded_db: bool = Field(True, description="start the embedded Postgres when nothing is configured")

    admin_key_hash: str | None = Field(
        None,
        validation_alias=AliasChoices("TENANT_RAG_ADMIN_KEY_HASH", "TENANT_RAG_API_ADMIN_KEY_HASH", "admin_key_hash"),
        description="'sha256$<hex>' of the admin key (python -m tenant_rag set-admin-key --print-hash)",
    )
    admin_key_file: Path | None = Field(None, description="JSON file with the admin key hash")

    max_question_chars: int = Field(2000, ge=1, le=MAX_QUESTION_CHARS)
    max_top_k: int = Field(20, ge=1, le=MAX_TOP_K)
    max_body_bytes: int = Field(16_384, ge=1024, le=10_000_000)

    airflow_base_url: str = Field("http://127.0.0.1:8080", pattern=r"^https?://[^\s/]+")
    airflow_username: str | None = None
    airflow_password: SecretStr | None = None
    airflow_token: SecretStr | None = Field(None, description="a ready bearer token instead of user/password")
    airflow_timeout_seconds: float = Field(10.0, gt=0, le=120)

    metrics_public: bool = Field(False, description="serve /metrics without the admin key")
    metrics_per_customer: Literal["off", "top", "all"] = Field(
        "top",
        description="per-customer series on /metrics: none, the metrics_top_customers that need attention or have "
        "the most traffic, or every customer (grows with the customer count); aggregates are always there",
    )
    metrics_top_customers: int = Field(20, ge=1, le=1000, description="customers labelled when per-customer is top")
    cookie_secure: bool = Field(False, description="mark the status-page cookie Secure (behind HTTPS)")
    history_points: int = Field(200, ge=10, le=5000)
    index_stats_ttl_seconds: float = Field(30.0, ge=0, le=3600)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)

    @field_validator("admin_key_hash")
    @classmethod
    def _hash_not_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not HASH_RE.match(value):
            raise ValueError(
                "TENANT_RAG_ADMIN_KEY_HASH must be 'sha256$' followed by 64 hex digits (make it with "
                "'python -m tenant_rag set-admin-key --print-hash'); never put the plaintext key in configuration"
            )
        return value

    @field_validator("airflow_password", "airflow_token")
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("airflow_base_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.rstrip("/")

    def resolved_customers_dir(self) -> Path:
        return self.customers_dir or customers_dir()

    def resolved_admin_key_file(self) -> Path:
        return self.admin_key_file or run_dir() / "api" / "admin_key.json"


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    """The process's settings from the environment (cached; call ``get_settings.cache_clear()`` in tests)."""
    return ApiSettings()
