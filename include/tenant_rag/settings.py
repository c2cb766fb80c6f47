"""The environment as one typed object: ``settings()`` returns the ``Settings`` read from the current environment.

Every ``TENANT_RAG_*`` variable the library, the Airflow plugin and the API read is a field here (its name is in
``tenant_rag.constants``; the API's fields are ``TENANT_RAG_API_<FIELD>``, see ``tenant_rag.api.settings``), with
its default and bounds. An empty variable counts as unset. One error policy: an unusable value raises
``SettingsError`` naming every bad variable and the form it expects; the value is shown only when it is not a
secret. Nothing is read at import: ``settings()`` reads the environment on each call (a test's ``monkeypatch.setenv``
applies at once); an object built from the same ``TENANT_RAG_*`` / ``GOOGLE_API_KEY`` values is reused, so hot
paths (a pool lookup per query) pay a dictionary scan, not a validation.

DAG-file parsing reads the customers folder and the shard counts through ``tenant_rag.parse_env`` instead, which
shares the names and validation functions with the fields here: importing ``pydantic_settings`` would cost a shard
parse ten times its own CPU time (figures in that module).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenant_rag import constants as c
from tenant_rag.api.settings import ApiSettings
from tenant_rag.errors import SettingsError
from tenant_rag.parse_env import customers_dir_of, data_dir_of, project_root_of, whole_number

#: PostgreSQL durations and sizes (no quoting, no second setting: these go into ``ALTER ROLE ... SET``)
DURATION_PATTERN = r"^\d+\s*(us|ms|s|min|h|d)?$"
SIZE_PATTERN = r"^\d+\s*(kB|MB|GB|TB)?$"
_API_FIELD = "api"


class Settings(BaseSettings):
    """Every environment variable of tenantrag; build it with ``settings()``."""

    model_config = SettingsConfigDict(
        env_prefix=c.ENV_PREFIX,  # only for ``api`` (TENANT_RAG_API); the other fields name their variable
        env_ignore_empty=True,
        env_nested_delimiter="_",  # TENANT_RAG_API_<FIELD> fills api.<field>
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )

    home: Path | None = Field(None, validation_alias=c.HOME_ENV, description="the checkout root")
    run_dir: Path | None = Field(None, validation_alias=c.RUN_DIR_ENV, description="runtime state (`<home>/.run`)")
    data_dir: Path | None = Field(None, validation_alias=c.DATA_DIR_ENV, description="data folder (`<home>/data`)")
    customers_dir: Path | None = Field(
        None, validation_alias=c.CUSTOMERS_DIR_ENV, description="folder of customer folders (`<data>/customers`)"
    )
    staging_dir: Path | None = Field(
        None, validation_alias=c.STAGING_DIR_ENV, description="run staging (`<customer>/cache/staging`)"
    )
    database_url: SecretStr | None = Field(None, validation_alias=c.DATABASE_URL_ENV, description="vector database")
    tenant_role_secret: SecretStr | None = Field(None, validation_alias=c.TENANT_ROLE_SECRET_ENV)
    max_tenant_pools: int = Field(64, ge=1, validation_alias=c.MAX_TENANT_POOLS_ENV)
    pool_max_size: int = Field(4, ge=1, validation_alias=c.POOL_MAX_SIZE_ENV)
    index_build_memory: str = Field("1GB", pattern=SIZE_PATTERN, validation_alias=c.INDEX_BUILD_MEMORY_ENV)
    index_build_workers: int = Field(2, ge=0, validation_alias=c.INDEX_BUILD_WORKERS_ENV)
    upsert_writers: int = Field(2, ge=1, le=c.MAX_UPSERT_WRITERS, validation_alias=c.UPSERT_WRITERS_ENV)
    staging_max_age_seconds: float = Field(24 * 3600.0, ge=0, validation_alias=c.STAGING_MAX_AGE_ENV)
    lease_ttl_seconds: float = Field(600.0, ge=1, validation_alias=c.LEASE_TTL_ENV)
    lease_recheck_seconds: float = Field(30.0, ge=1, validation_alias=c.LEASE_RECHECK_ENV)
    lease_wait_in_task_seconds: float = Field(60.0, ge=0, validation_alias=c.LEASE_WAIT_IN_TASK_ENV)
    progress_seconds: float = Field(30.0, ge=0.2, validation_alias=c.PROGRESS_SECONDS_ENV)
    max_managers: int = Field(64, ge=1, validation_alias=c.MAX_MANAGERS_ENV)
    gemini_base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+", validation_alias=c.GEMINI_BASE_URL_ENV)
    google_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(*c.API_KEY_ENVS))
    tenant_connection_limit: int = Field(8, ge=1, le=1000, validation_alias=c.TENANT_CONNECTION_LIMIT_ENV)
    tenant_statement_timeout: str = Field(
        "30s", pattern=DURATION_PATTERN, validation_alias=c.TENANT_STATEMENT_TIMEOUT_ENV
    )
    tenant_idle_in_transaction_timeout: str = Field(
        "30s", pattern=DURATION_PATTERN, validation_alias=c.TENANT_IDLE_IN_TRANSACTION_TIMEOUT_ENV
    )
    tenant_idle_session_timeout: str = Field(
        "10min", pattern=DURATION_PATTERN, validation_alias=c.TENANT_IDLE_SESSION_TIMEOUT_ENV
    )
    tenant_lock_timeout: str = Field("5s", pattern=DURATION_PATTERN, validation_alias=c.TENANT_LOCK_TIMEOUT_ENV)
    tenant_temp_file_limit: str = Field("1GB", pattern=SIZE_PATTERN, validation_alias=c.TENANT_TEMP_FILE_LIMIT_ENV)
    dag_shards: int | None = Field(None, validation_alias=c.DAG_SHARDS_ENV)
    dag_shard_size: int = Field(c.DEFAULT_SHARD_SIZE, validation_alias=c.DAG_SHARD_SIZE_ENV)
    admin_key_hash: str | None = Field(
        None, validation_alias=c.ADMIN_KEY_HASH_ENV, description="the API's admin key hash (also api.admin_key_hash)"
    )
    api: ApiSettings = Field(default_factory=ApiSettings)

    @field_validator("dag_shards", "dag_shard_size", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> int | None:
        return None if value is None else whole_number(value)

    @model_validator(mode="before")
    @classmethod
    def _admin_key_hash_for_the_api(cls, data: Any) -> Any:
        """``TENANT_RAG_ADMIN_KEY_HASH`` is the API's ``admin_key_hash`` (and wins over ``..._API_ADMIN_KEY_HASH``)."""
        if not isinstance(data, dict):
            return data
        value, api = data.get(c.ADMIN_KEY_HASH_ENV), data.get(_API_FIELD)
        if value is not None and (api is None or isinstance(api, dict)):
            data = {**data, _API_FIELD: {**(api or {}), "admin_key_hash": value}}
        return data

    def project_root(self) -> Path:
        return project_root_of(self.home)

    def resolved_run_dir(self) -> Path:
        return self.run_dir or self.project_root() / ".run"

    def resolved_data_dir(self) -> Path:
        return data_dir_of(self.data_dir, self.home)

    def resolved_customers_dir(self) -> Path:
        return customers_dir_of(self.customers_dir, self.data_dir, self.home)


def settings() -> Settings:
    """The settings of the current environment; ``SettingsError`` names every unusable variable."""
    snapshot = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(c.ENV_PREFIX) or k in c.API_KEY_ENVS))
    return _settings_for(snapshot)


@lru_cache(maxsize=8)
def _settings_for(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    del snapshot  # the cache key: Settings() reads the same variables from os.environ
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None  # the pydantic error would repeat a secret's value


def env_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable an error location stands for."""
    if not loc:
        return "the environment"
    if loc[0] == _API_FIELD and len(loc) > 1:
        field = str(loc[1])
        return c.ADMIN_KEY_HASH_ENV if field == "admin_key_hash" else c.API_ENV_PREFIX + field.upper()
    field_info = Settings.model_fields.get(str(loc[0]))
    alias = field_info.validation_alias if field_info is not None else None
    if isinstance(alias, AliasChoices):
        return " / ".join(str(choice) for choice in alias.choices)
    return str(alias or loc[0])


def env_names() -> set[str]:
    """Every environment variable ``Settings`` reads."""
    names = {env_name((name,)) for name in Settings.model_fields if name != _API_FIELD}
    names = {part for name in names for part in name.split(" / ")}
    return names | {env_name((_API_FIELD, name)) for name in ApiSettings.model_fields}


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    model: type[Any] = Settings
    if len(loc) > 1 and loc[0] == _API_FIELD:
        model, loc = ApiSettings, loc[1:]
    field = model.model_fields.get(str(loc[0])) if loc else None
    if field is None:  # unknown variable (a typo of a secret's name?) or a field known by its alias
        field = next((f for f in model.model_fields.values() if f.validation_alias == (loc or [None])[0]), None)
    return field is None or "SecretStr" in str(field.annotation) or "admin_key_hash" in str(loc)


def describe(exc: ValidationError) -> str:
    """One line per bad variable: its name, the value unless secret, what is expected."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        shown = "" if _is_secret(loc) else f"={str(error['input'])[:80]!r}"
        lines.append(f"{env_name(loc)}{shown}: {error['msg']}")
    return "invalid environment:\n" + "\n".join(f"  - {line}" for line in lines)


def api_settings(**overrides: Any) -> ApiSettings:
    """The environment's API settings (``settings().api``) with ``overrides`` applied and validated."""
    current = settings().api
    return ApiSettings.model_validate(
        {**{name: getattr(current, name) for name in current.model_fields_set}, **overrides}
    )
