"""Airflow discovers tenantrag's connection types through provider info and shows them in the Connections form."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
from airflow.providers_manager import ProvidersManager

from tenant_rag_airflow.hooks.confluence import ConfluenceHook
from tenant_rag_airflow.hooks.gemini import GeminiHook
from tenant_rag_airflow.provider_info import PACKAGE_NAME, get_provider_info

ROOT = Path(__file__).resolve().parents[2]
HOOKS = {hook.conn_type: hook for hook in (ConfluenceHook, GeminiHook)}


def test_provider_info_names_the_hooks_by_their_own_type_and_name() -> None:
    declared = {entry["connection-type"]: entry for entry in get_provider_info()["connection-types"]}
    assert set(declared) == {"confluence", "google_genai"} == set(HOOKS)
    for conn_type, hook in HOOKS.items():
        assert declared[conn_type]["hook-class-name"] == f"{hook.__module__}.{hook.__qualname__}"
        assert declared[conn_type]["hook-name"] == hook.hook_name


def test_the_connections_form_offers_both_types_with_their_labels() -> None:
    assert PACKAGE_NAME in ProvidersManager().providers
    form = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    confluence, gemini = form["confluence"], form["google_genai"]
    assert confluence.hook_class_name == "tenant_rag_airflow.hooks.confluence.ConfluenceHook"
    assert confluence.hook_name == ConfluenceHook.hook_name
    fields = confluence.standard_fields
    assert fields is not None and fields.host is not None and fields.port is not None
    assert (fields.host.title, fields.host.placeholder) == ("Base URL", "https://acme.atlassian.net/wiki")
    assert fields.port.hidden
    assert gemini.hook_class_name == "tenant_rag_airflow.hooks.gemini.GeminiHook"
    fields = gemini.standard_fields
    assert fields is not None and fields.password is not None and fields.login is not None
    assert fields.password.title == "API key" and fields.login.hidden


def test_a_fresh_airflow_process_lists_the_hooks_from_pythonpath_alone(tmp_path: Path) -> None:
    """``airflow providers hooks`` in a new process, outside the checkout, with only ``PYTHONPATH`` as the Makefile,
    docker-compose and the local UI set it: the ``.dist-info`` in ``plugins/`` is what registers the provider."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("include", "plugins", "."))
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks", "-o", "json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    listed = {row["connection_type"]: row for row in json.loads(out[out.index("[") :])}
    for conn_type, hook in HOOKS.items():
        assert listed[conn_type]["package_name"] == PACKAGE_NAME
        assert listed[conn_type]["class"] == f"{hook.__module__}.{hook.__qualname__}"


def test_the_readme_and_the_deployment_create_confluence_connections_of_the_hook_type() -> None:
    for path in (ROOT / "README.md", ROOT / "deploy" / "airflow-init.sh"):
        types = re.findall(r"(?:connections add|put_connection) confluence\w* --conn-type (\w+)", path.read_text())
        assert types and set(types) == {ConfluenceHook.conn_type}, (path.name, types)
