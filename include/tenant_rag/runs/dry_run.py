"""A dry run: the scratch copy of a customer's export it exports into, and the report it ends with.

Exporting for a dry run writes nothing the customer owns: it exports into a scratch copy of the customer's folder.
The copy is made of hard links (a plain copy when linking is impossible, e.g. staging on another file system):
it costs no page data, and the exporter's atomic writes (temp file + rename) replace a link instead of writing
through it, so the customer's own ``exports/`` and ``cache/`` stay untouched. It lives in the run's staging
folder and goes away with it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tenant_rag.runs.record import RunRecord

SHADOWED = ("exports", "cache")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def shadow_customer_dir(customer_dir: Path, target: Path) -> Path:
    """``target`` with ``exports/`` and ``cache/`` mirrored from ``customer_dir`` (replacing an older mirror).

    Staging folders (``cache/staging`` by default, which holds ``target`` itself) are not mirrored.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    target_resolved = target.resolve()

    def skip_staging(folder: str, names: list[str]) -> set[str]:
        base = Path(folder)
        return {
            name
            for name in names
            if name == "staging" or (base / name).resolve() in (target_resolved, *target_resolved.parents)
        }

    for name in SHADOWED:
        source = customer_dir / name
        if source.is_dir():
            shutil.copytree(source, target / name, copy_function=_link_or_copy, symlinks=True, ignore=skip_staging)
        else:
            (target / name).mkdir()
    return target


def dry_run_report(record: RunRecord) -> str:
    """What a dry run found, for the log: the export plan, the counts, the pages it would touch and the errors."""
    return json.dumps(record.model_dump(mode="json", include={"export", "counts", "preview", "errors"}), indent=2)
