"""A directory source may not point into another customer's folder (exports, keys, state), however it is spelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_rag.directory_source import directory_source
from tenant_rag.errors import ConfigError


@pytest.fixture
def two_folders(tmp_path: Path) -> tuple[Path, Path]:
    customers = tmp_path / "customers"
    for name in ("acme", "globex"):
        (customers / name / "exports" / "DOCS").mkdir(parents=True)
        (customers / name / "docs" / "DOCS").mkdir(parents=True)
    (customers / "globex" / "api_keys.json").write_text("{}", encoding="utf-8")
    (customers / "acme" / "linked").symlink_to(customers / "globex" / "exports")
    return customers / "acme", customers / "globex"


@pytest.mark.parametrize(
    "spelling",
    ["../globex/exports", "../globex", "..", "docs/../../globex/docs", "linked", "{globex}/exports", "{globex}"],
)
def test_a_path_into_another_customers_folder_is_refused(two_folders: tuple[Path, Path], spelling: str) -> None:
    acme, globex = two_folders
    with pytest.raises(ConfigError) as caught:
        directory_source(acme, spelling.format(globex=globex))
    assert caught.value.customer_id == "acme" and caught.value.path == acme / "config.yaml"
    assert caught.value.first_field == "export.path"
    assert "not this customer's own folder" in str(caught.value)


def test_own_folders_and_folders_outside_the_customers_folder_are_used(
    two_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    acme, _ = two_folders
    outside = tmp_path / "shared-markdown"
    (outside / "DOCS").mkdir(parents=True)
    assert directory_source(acme, "docs") == (acme / "docs").resolve()
    assert directory_source(acme, str(outside)) == outside.resolve()
    with pytest.raises(ConfigError, match="is not a folder"):
        directory_source(acme, "missing")
