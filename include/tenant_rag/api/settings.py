"""API settings: the ``api`` part of ``tenant_rag.settings.Settings``, each field read from ``TENANT_RAG_API_<FIELD>``.

Secrets are never stored in plain text: the admin key is configured by its hash (``TENANT_RAG_ADMIN_KEY_HASH``
or the file written by ``python -m tenant_rag set-admin-key``), and a plaintext key put where a hash belongs is
refused with a message saying how to make the hash. ``tenant_rag.settings.api_settings(**overrides)`` is the
environment's API settings with some fields replaced (the CLI, the Airflow plugin); ``ApiSettings(...)`` alone reads
no environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tenant_rag.constants import ADMIN_KEY_HASH_ENV, DB_CONN_ID, MAX_QUESTION_CHARS, MAX_TOP_K

HASH_RE = re.compile(r"^sha256\$[0-9a-f]{64}$")


class ApiSettings(BaseModel):
    """Everything the API needs; every field can be set as ``TENANT_RAG_API_<FIELD>`` (``settings().api``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customers_dir: Path | None = Field(None, description="defaults to tenant_rag.paths.customers_dir()")
    database_url: SecretStr | None = Field(None, description="libpq URL; default: resolve db_conn_id")
    db_conn_id: str = DB_CONN_ID
    start_embedded_db: bool = Field(True, description="start the embedded Postgres when nothing is configured")

    admin_key_hash: str | None = Field(
        None,
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
                f"{ADMIN_KEY_HASH_ENV} must be 'sha256$' followed by 64 hex digits (make it with "
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
