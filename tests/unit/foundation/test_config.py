"""CustomerConfig validation: good configs load, bad ones name the customer, file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tenant_rag.config import CustomerConfig, dump_customer_config, load_customer_config
from tenant_rag.errors import ConfigError

GOOD = {
    "customer_id": "acme",
    "display_name": "Acme Corp",
    "export": {
        "source": "confluence",
        "base_url": "https://acme.atlassian.net/wiki/",
        "conn_id": "confluence_acme",
        "space_keys": ["ENG", "OPS"],
    },
}


def write(base: Path, customer_id: str, raw: object) -> Path:
    path = base / customer_id / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(raw) if not isinstance(raw, str) else raw)
    return path


def test_good_config_has_seed_defaults(tmp_path: Path) -> None:
    config = load_customer_config(write(tmp_path, "acme", GOOD))
    assert config.rag.chunk_size == 1000
    assert config.rag.chunk_overlap == 100
    assert config.rag.parent_chunk_size == 50000
    assert config.rag.enable_parent_retriever is True
    assert config.rag.dimensions == 256
    assert config.rag.retrieval_mode == "hybrid"
    assert config.collection_name == "customer_acme_documents"
    assert config.export.base_url == "https://acme.atlassian.net/wiki"  # trailing slash dropped
    assert config.start_date.tzinfo is not None


def test_directory_source_and_gemini_default_dimensions(tmp_path: Path) -> None:
    raw = {
        "customer_id": "globex",
        "display_name": "Globex",
        "export": {"source": "directory", "path": "exports"},
        "rag": {"embedding_model": "gemini-embedding-001"},
    }
    config = load_customer_config(write(tmp_path, "globex", raw))
    assert config.rag.dimensions == 768
    assert config.space_keys is None


def test_dump_round_trips(tmp_path: Path) -> None:
    config = CustomerConfig.model_validate(GOOD)
    again = load_customer_config(write(tmp_path, "acme", dump_customer_config(config)))
    assert again == config


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"display_nme": "x"}, "display_nme", "unknown field"),
        ({"export": {**GOOD["export"], "space_keys": []}}, "export.confluence.space_keys", "at least 1"),
        (
            {"export": {**GOOD["export"], "space_keys": ["../etc"]}},
            "export.confluence.space_keys",
            "space key",
        ),
        ({"export": {**GOOD["export"], "base_url": "ftp://x"}}, "export.confluence.base_url", "http"),
        ({"export": {**GOOD["export"], "source": "sharepoint"}}, "export", "confluence"),
        ({"rag": {"chunk_size": 500, "chunk_overlap": 600}}, "rag", "chunk_overlap"),
        ({"rag": {"chunk_size": 2000, "parent_chunk_size": 1000}}, "rag", "parent_chunk_size"),
        ({"rag": {"top_k": 0}}, "rag.top_k", "greater than or equal"),
        ({"rag": {"embedding_model": "gpt"}}, "rag.embedding_model", "wordllama"),
        (
            {"rag": {"embedding_dimensions": 3072, "embedding_model": "gemini-embedding-001"}},
            "rag.embedding_dimensions",
            "2000",
        ),
        ({"rag": {"collection_name": "Robert'); DROP"}}, "rag.collection_name", "identifier"),
        ({"customer_id": "../acme"}, "customer_id", "path"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, change: dict, field: str, words: str) -> None:
    customer_id = change.get("customer_id", "acme")
    folder = "acme"
    with pytest.raises(ConfigError) as info:
        load_customer_config(write(tmp_path, folder, {**GOOD, **change}))
    message = str(info.value)
    assert "'acme'" in message and str(tmp_path / folder / "config.yaml") in message
    assert any(f == field for f, _ in info.value.problems), info.value.problems
    assert words.lower() in message.lower(), message
    assert customer_id


def test_folder_and_customer_id_must_agree(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_customer_config(write(tmp_path, "globex", GOOD))
    assert info.value.first_field == "customer_id"
    assert "folder" in str(info.value)


@pytest.mark.parametrize(
    ("export_extra", "field"),
    [
        ({"password": "hunter2"}, "export.password"),
        ({"api_token": "abc"}, "export.api_token"),
        ({"base_url": "https://bob:secret@acme.atlassian.net/wiki"}, "export.base_url"),
        ({"base_url": "https://ATATT3xFf0@acme.atlassian.net/wiki"}, "export.base_url"),
        ({"base_url": "https://acme.atlassian.net/wiki?access_token=abc"}, "export.base_url"),
        ({"cql": "space = ENG AND apiToken=abc"}, "export.cql"),
    ],
)
def test_secrets_are_refused_with_connection_hint(tmp_path: Path, export_extra: dict, field: str) -> None:
    raw = {**GOOD, "export": {**GOOD["export"], **export_extra}}
    with pytest.raises(ConfigError) as info:
        load_customer_config(write(tmp_path, "acme", raw))
    assert info.value.first_field == field
    assert "Connection" in str(info.value)


def test_cql_mentioning_password_as_a_word_is_accepted(tmp_path: Path) -> None:
    raw = {**GOOD, "export": {**GOOD["export"], "cql": 'label = "password-policy" OR title ~ "token"'}}
    assert load_customer_config(write(tmp_path, "acme", raw)).export.cql == raw["export"]["cql"]  # type: ignore[union-attr]


def test_connection_string_with_credentials_anywhere_is_refused(tmp_path: Path) -> None:
    raw = {**GOOD, "tags": ["postgresql://admin:pw@db:5432/x"]}
    with pytest.raises(ConfigError) as info:
        load_customer_config(write(tmp_path, "acme", raw))
    assert info.value.first_field == "tags[0]"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("customer_id: [unclosed", "not valid YAML at line"),
        ("- a\n- b\n", "expected a mapping"),
        ("", "mapping"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_customer_config(write(tmp_path, "acme", text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_customer_config(tmp_path / "acme" / "config.yaml")
