"""The README's code-layout table names modules and folders that exist (it is kept in step with the tree)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ROWS = {
    "`include/tenant_rag/`": ROOT / "include/tenant_rag",
    "`include/tenant_rag/export/`": ROOT / "include/tenant_rag/export",
    "`plugins/tenant_rag_airflow/`": ROOT / "plugins/tenant_rag_airflow",
}
NOT_MODULES = {"AIRFLOW_CONN_*", "PostgresHook", "dag.test()", "/tenant-rag", "make demo", "make ui", "make airflow"}


def _layout_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("Code layout:") : text.index("## Configuration reference")]
    return {line.split("|")[1].strip(): line.split("|")[2] for line in table.splitlines() if line.startswith("| `")}


def test_every_module_the_layout_table_names_exists() -> None:
    rows = _layout_rows()
    assert set(ROWS) <= set(rows)
    for row, folder in ROWS.items():
        names = set(re.findall(r"`([^`]+)`", rows[row])) - NOT_MODULES
        missing = []
        for name in names:
            stem = name.rstrip("/").removesuffix("_*")
            if name.endswith("_*"):
                found = any(folder.glob(f"{stem}_*.py"))
            else:
                found = (
                    (folder / f"{stem}.py").is_file() or (folder / stem).is_dir() or (ROOT / "plugins" / stem).is_dir()
                )
            if not found:
                missing.append(name)
        assert not missing, f"README code layout, row {row}: no such module or folder: {sorted(missing)}"


def test_every_folder_of_the_tree_has_a_row() -> None:
    rows = " ".join(_layout_rows())
    for package in ("tenant_rag", "tenant_rag_devtools"):
        assert f"include/{package}/" in rows
    for sub in sorted(p.name for p in (ROOT / "include/tenant_rag").iterdir() if (p / "__init__.py").is_file()):
        assert sub in rows, f"include/tenant_rag/{sub}/ has no row in the README's code layout"
