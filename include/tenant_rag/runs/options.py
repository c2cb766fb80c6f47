"""``RunOptions``: what one run is asked to do (the params of a DAG run, the options of an in-process run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RunOptions:
    """What a run is asked to do: ``space_keys`` None means every configured space; ``dry_run`` reports what would
    change and writes nothing; ``force_delete`` accepts deletions above ``rag.max_delete_ratio``. Its fields are
    the params a DAG run accepts (``tenant_rag_airflow.params``)."""

    full_refresh: bool = False
    dry_run: bool = False
    space_keys: list[str] | None = None
    force_delete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
