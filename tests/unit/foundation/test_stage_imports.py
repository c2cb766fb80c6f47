"""Each Airflow task is a new process: a stage imports the libraries it uses, not every stage's.

The ``tenant_rag.pipeline`` package imports none of its stages, so the export, detect, upsert and record-state tasks
never load the chunk stage's text splitters (nor does the stats module the record-state task reads load numpy or
the database driver).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _loaded_by(module: str) -> set[str]:
    probe = f"""
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps(sorted({{name.split(".")[0] for name in set(sys.modules) - before}})))
"""
    env = {"PYTHONPATH": f"{ROOT / 'include'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("tenant_rag.pipeline.stats", {"langchain_text_splitters", "psycopg", "numpy"}),
        ("tenant_rag.pipeline.detect", {"langchain_text_splitters"}),
        ("tenant_rag.pipeline.upsert", {"langchain_text_splitters"}),
    ],
)
def test_a_stage_does_not_import_the_other_stages_libraries(module: str, absent: set[str]) -> None:
    loaded = _loaded_by(module)
    assert "tenant_rag" in loaded
    assert not loaded & absent, f"{module} imports {sorted(loaded & absent)}"


def test_the_chunk_stage_still_loads_its_splitters() -> None:
    assert "langchain_text_splitters" in _loaded_by("tenant_rag.pipeline.chunk")


def test_the_package_itself_imports_no_stage() -> None:
    loaded = _loaded_by("tenant_rag.pipeline")
    assert not loaded & {"langchain_text_splitters", "psycopg", "numpy", "pydantic"}, sorted(loaded)
