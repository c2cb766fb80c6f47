"""The environment as one ``Settings`` object: defaults, one error type naming the variable, secrets never shown,
the README's reference table, and the pydantic-free reader DAG parsing uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tenant_rag import constants as c
from tenant_rag import parse_env
from tenant_rag.errors import PermanentError, SettingsError
from tenant_rag.settings import env_names, settings

README = Path(__file__).resolve().parents[3] / "README.md"
HASH = "sha256$" + "ab" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_names():
        monkeypatch.delenv(name, raising=False)


def test_every_tenant_rag_variable_in_the_readme_is_a_setting_and_vice_versa() -> None:
    documented = set(re.findall(r"(?<![A-Z0-9_])TENANT_RAG_[A-Z0-9_]*[A-Z0-9]", README.read_text(encoding="utf-8")))
    defined = {name for name in env_names() if name.startswith(c.ENV_PREFIX)}
    assert documented - defined == set(), "documented in README.md but not a field of Settings"
    assert defined - documented == set(), "a field of Settings missing from README.md"


def test_defaults_without_any_variable() -> None:
    current = settings()
    assert (current.upsert_writers, current.pool_max_size, current.max_tenant_pools, current.max_managers) == (
        2,
        4,
        64,
        64,
    )
    assert (current.lease_ttl_seconds, current.lease_recheck_seconds, current.lease_wait_in_task_seconds) == (
        600.0,
        30.0,
        60.0,
    )
    assert (current.progress_seconds, current.staging_max_age_seconds) == (30.0, 86400.0)
    assert (current.index_build_memory, current.index_build_workers) == ("1GB", 2)
    assert (current.dag_shards, current.dag_shard_size) == (None, c.DEFAULT_SHARD_SIZE)
    assert current.tenant_connection_limit == 8 and current.tenant_idle_session_timeout == "10min"
    assert current.database_url is None and current.tenant_role_secret is None and current.google_api_key is None
    assert current.resolved_customers_dir() == parse_env.PACKAGE_ROOT / "data" / "customers"
    assert current.api.port == 8000 and current.api.admin_key_hash is None


def test_each_call_reads_the_environment_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(c.UPSERT_WRITERS_ENV, "5")
    monkeypatch.setenv(c.HOME_ENV, str(tmp_path))
    assert settings().upsert_writers == 5 and settings().resolved_run_dir() == tmp_path / ".run"
    monkeypatch.setenv(c.UPSERT_WRITERS_ENV, "")  # empty is unset
    monkeypatch.setenv(c.DATA_DIR_ENV, str(tmp_path / "d"))
    assert settings().upsert_writers == 2 and settings().resolved_customers_dir() == tmp_path / "d" / "customers"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (c.UPSERT_WRITERS_ENV, "17"),
        (c.UPSERT_WRITERS_ENV, "two"),
        (c.POOL_MAX_SIZE_ENV, "0"),
        (c.MAX_TENANT_POOLS_ENV, "many"),
        (c.MAX_MANAGERS_ENV, "0"),
        (c.INDEX_BUILD_WORKERS_ENV, "-1"),
        (c.INDEX_BUILD_MEMORY_ENV, "1GB'; DROP"),
        (c.LEASE_TTL_ENV, "0.5"),
        (c.LEASE_RECHECK_ENV, "0"),
        (c.LEASE_WAIT_IN_TASK_ENV, "-1"),
        (c.PROGRESS_SECONDS_ENV, "0.1"),
        (c.STAGING_MAX_AGE_ENV, "nan"),
        (c.TENANT_CONNECTION_LIMIT_ENV, "1001"),
        (c.TENANT_LOCK_TIMEOUT_ENV, "5 s; RESET ALL"),
        (c.TENANT_TEMP_FILE_LIMIT_ENV, "lots"),
        (c.GEMINI_BASE_URL_ENV, "ftp://proxy"),
        (c.DAG_SHARDS_ENV, "0"),
        (c.DAG_SHARD_SIZE_ENV, "1.5"),
        (c.API_ENV_PREFIX + "PORT", "eighty"),
        (c.API_ENV_PREFIX + "METRICS_PER_CUSTOMER", "some"),
        (c.API_ENV_PREFIX + "NO_SUCH_FIELD", "1"),
    ],
)
def test_an_unusable_value_is_one_settings_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        settings()
    assert isinstance(raised.value, PermanentError) and name in str(raised.value)


def test_several_bad_variables_are_named_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.UPSERT_WRITERS_ENV, "0")
    monkeypatch.setenv(c.LEASE_TTL_ENV, "soon")
    with pytest.raises(SettingsError) as raised:
        settings()
    assert c.UPSERT_WRITERS_ENV in str(raised.value) and c.LEASE_TTL_ENV in str(raised.value)


def test_a_secret_is_never_shown_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.ADMIN_KEY_HASH_ENV, "trk_admin_plaintext_s3cret")  # the key itself, not its hash
    monkeypatch.setenv(c.API_ENV_PREFIX + "AIRFLOW_PASSWORT", "typo-s3cret")  # an unknown name may be a secret's
    with pytest.raises(SettingsError) as raised:
        settings()
    message = str(raised.value)
    assert c.ADMIN_KEY_HASH_ENV in message and c.API_ENV_PREFIX + "AIRFLOW_PASSWORT" in message
    assert "s3cret" not in message and raised.value.__cause__ is None and raised.value.__suppress_context__


def test_secrets_are_secret_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.TENANT_ROLE_SECRET_ENV, "role-s3cret")
    monkeypatch.setenv(c.DATABASE_URL_ENV, "postgresql://u:db-s3cret@h/d")
    monkeypatch.setenv("GOOGLE_API_KEY", "")  # empty: the next name applies
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-s3cret")
    current = settings()
    assert "s3cret" not in repr(current) and "s3cret" not in str(current.model_dump())
    assert current.google_api_key is not None and current.google_api_key.get_secret_value() == "gemini-s3cret"
    assert current.tenant_role_secret is not None and current.tenant_role_secret.get_secret_value() == "role-s3cret"


def test_the_admin_key_hash_reaches_the_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.API_ENV_PREFIX + "ADMIN_KEY_HASH", "sha256$" + "cd" * 32)
    assert settings().api.admin_key_hash == "sha256$" + "cd" * 32
    monkeypatch.setenv(c.ADMIN_KEY_HASH_ENV, HASH)  # the documented name wins
    assert settings().api.admin_key_hash == HASH
    monkeypatch.setenv(c.API_ENV_PREFIX + "PORT", "9000")
    assert settings().api.port == 9000 and settings().api.admin_key_hash == HASH


@pytest.mark.parametrize("value", [None, "", "1", "8", " 12 ", "0", "-3", "1.5", "two", "1e3", "+4"])
def test_the_parse_time_reader_agrees_with_settings(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    for name in (c.DAG_SHARDS_ENV, c.DAG_SHARD_SIZE_ENV):
        if value is not None:
            monkeypatch.setenv(name, value)
    try:
        expected: tuple[int | None, int] | type[SettingsError] = (settings().dag_shards, settings().dag_shard_size)
    except SettingsError:
        expected = SettingsError
    if expected is SettingsError:
        with pytest.raises(SettingsError):
            parse_env.dag_shards()
        with pytest.raises(SettingsError):
            parse_env.dag_shard_size()
    else:
        assert (parse_env.dag_shards(), parse_env.dag_shard_size()) == expected


def test_the_parse_time_reader_finds_the_same_customers_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_env.customers_dir() == settings().resolved_customers_dir()
    monkeypatch.setenv(c.HOME_ENV, str(tmp_path / "home"))
    assert parse_env.customers_dir() == settings().resolved_customers_dir() == tmp_path / "home/data/customers"
    monkeypatch.setenv(c.DATA_DIR_ENV, str(tmp_path / "data"))
    assert parse_env.customers_dir() == settings().resolved_customers_dir() == tmp_path / "data/customers"
    monkeypatch.setenv(c.CUSTOMERS_DIR_ENV, str(tmp_path / "c"))
    assert parse_env.customers_dir() == settings().resolved_customers_dir() == tmp_path / "c"
