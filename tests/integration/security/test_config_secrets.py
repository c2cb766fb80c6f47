"""A careless operator pastes a credential into config.yaml: it is refused, the field is named, the value is never
echoed, and the message points at Airflow Connections. Ordinary values that merely mention a word are accepted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenant_rag.config import load_customer_config
from tenant_rag.errors import ConfigError

SECRET = "s3cr3tVALUE9x"
REPO = Path(__file__).resolve().parents[3]


def _config(export: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {
        "customer_id": "acme",
        "display_name": "Acme Corp",
        "export": {
            "source": "confluence",
            "base_url": "https://acme.atlassian.net/wiki",
            "conn_id": "confluence_acme",
            "space_keys": ["ENG"],
            **(export or {}),
        },
        **top,
    }


def _write(base: Path, raw: dict[str, Any]) -> Path:
    path = base / str(raw["customer_id"]) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


LEAKS = [
    ({"base_url": f"https://{SECRET}@acme.atlassian.net/wiki"}, "export.base_url", "user info"),
    ({"base_url": f"https://bob:{SECRET}@acme.atlassian.net/wiki"}, "export.base_url", "user info"),
    ({"base_url": f"https://acme.atlassian.net/wiki?access_token={SECRET}"}, "export.base_url", "access_token"),
    ({"base_url": f"https://acme.atlassian.net/wiki?space=ENG&Token={SECRET}"}, "export.base_url", "Token"),
    ({"base_url": f"https://acme.atlassian.net/wiki?api_key={SECRET}"}, "export.base_url", "api_key"),
    ({"base_url": f"https://acme.atlassian.net/wiki?APIKEY={SECRET}"}, "export.base_url", "APIKEY"),
    ({"base_url": f"https://acme.atlassian.net/wiki?key={SECRET}"}, "export.base_url", "key"),
    ({"base_url": f"https://acme.atlassian.net/wiki?password={SECRET}"}, "export.base_url", "password"),
    ({"base_url": f"https://blob.example/x?sv=1&sig={SECRET}"}, "export.base_url", "sig"),
    ({"base_url": f"https://s3.example/x?X-Amz-Signature={SECRET}"}, "export.base_url", "X-Amz-Signature"),
    ({"base_url": f"https://acme.atlassian.net/wiki?client_secret={SECRET}"}, "export.base_url", "client_secret"),
    ({"cql": f"type = page AND password={SECRET}"}, "export.cql", "password"),
    ({"cql": f'label = "x" AND token: "{SECRET}"'}, "export.cql", "token"),
    ({"cql": f"Authorization: Bearer {SECRET}"}, "export.cql", "Authorization"),
    ({"cql": f"apiToken={SECRET}"}, "export.cql", "apiToken"),
    ({"site_timezone": f"UTC x-api-key: {SECRET}"}, "export.site_timezone", "x-api-key"),
]


@pytest.mark.parametrize(("export", "field", "named"), LEAKS)
def test_credential_in_a_string_field_is_refused_without_echoing_it(
    tmp_path: Path, export: dict[str, Any], field: str, named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_customer_config(_write(tmp_path, _config(export)))
    assert info.value.first_field == field
    message = str(info.value)
    assert named in message
    assert "Airflow Connection" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("top", "field"),
    [
        ({"display_name": f"Acme (token={SECRET})"}, "display_name"),
        ({"tags": ["gold", f"https://{SECRET}@git.example/repo"]}, "tags[1]"),
        ({"owner": f"password: {SECRET}"}, "owner"),
        ({"rag": {"db_conn_id": f"postgresql://app:{SECRET}@db/x"}}, "rag.db_conn_id"),
    ],
)
def test_every_string_field_is_checked(tmp_path: Path, top: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_customer_config(_write(tmp_path, _config(**top)))
    assert info.value.first_field == field
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "cql",
    [
        'label = "password-policy"',
        'title ~ "token"',
        'title ~ "reset your password" AND space.key = ENG',
        'type = page AND title = "Password: how to reset"',
        'title ~ "Token: v2 migration" AND label in (secret, api-key-rotation)',
        'text ~ "max_tokens" AND creator = currentUser()',
    ],
)
def test_words_that_are_not_assignments_are_accepted(tmp_path: Path, cql: str) -> None:
    config = load_customer_config(_write(tmp_path, _config({"cql": cql})))
    assert config.export.cql == cql  # type: ignore[union-attr]


def test_plain_urls_and_names_are_accepted(tmp_path: Path) -> None:
    raw = _config(
        {"base_url": "https://acme.atlassian.net:8443/wiki?os_authType=none&spaceKey=ENG"},
        display_name="Tokens & Passwords team",
        owner="data-platform@acme.com",
        tags=["api-keys", "secrets-rotation"],
    )
    config = load_customer_config(_write(tmp_path, raw))
    assert config.display_name == "Tokens & Passwords team"


def test_cli_validate_names_the_field_and_hides_the_value(tmp_path: Path) -> None:
    customers = tmp_path / "customers"
    _write(customers, _config({"cql": f"space = ENG AND password={SECRET}"}))
    _write(customers, {**_config(), "customer_id": "globex"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("include", "plugins", "."))}
    result = subprocess.run(
        [sys.executable, "-m", "tenant_rag", "--customers-dir", str(customers), "customers", "validate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "ok      globex" in result.stdout
    assert "INVALID acme" in result.stderr
    assert "export.cql" in result.stderr
    assert "Airflow Connection" in result.stderr
    assert SECRET not in result.stdout + result.stderr
