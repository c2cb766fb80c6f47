"""The shared corpora as customer export trees (``<space>/<path>.md``) and customer folders, for the benchmarks.

Files are copied, never linked: the benchmarks edit pages and must not touch ../shared. Without ../shared a small
generated corpus stands in (and the result notes say so).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.common import CORPORA_DIR
from bench.datagen import chunk_texts

CORPUS_CUSTOMERS = {"handbook_18f": "handbook", "kubernetes_community": "kubernetes", "opentelemetry_docs": "otel"}


@dataclass(frozen=True)
class CorpusExport:
    name: str
    customer_id: str
    export_dir: Path
    pages: int
    bytes: int


def _space_key(raw: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_-]", "", raw).strip("_-")
    return key[:60] or "ROOT"


def available_corpora() -> list[str]:
    return [name for name in CORPUS_CUSTOMERS if (CORPORA_DIR / name / "manifest.jsonl").is_file()]


def export_corpus(name: str, dest: Path, *, repeat: int = 1) -> CorpusExport:
    """Copy corpus ``name`` into ``dest/<space>/...``; ``repeat`` > 1 adds copies ``r1/ r2/ ...`` of every page.

    Copies carry a marker in every paragraph, so their chunks are new text (embedded, not reused by hash).
    """
    source = CORPORA_DIR / name
    pages = size = 0
    for line in (source / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        src = source / entry["path"]
        if not src.is_file() or src.suffix != ".md":
            continue
        rel = Path(entry["path"]).relative_to("files")
        for copy in range(repeat):
            target = dest / _space_key(entry["space"]) / (f"r{copy}" if copy else "") / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if copy:  # a marker in every paragraph: copies are distinct text, so nothing is reused by text hash
                target.write_text(src.read_text(errors="replace").replace("\n\n", f" [copy {copy}]\n\n"))
            else:
                shutil.copyfile(src, target)
            pages += 1
            size += int(entry.get("bytes") or src.stat().st_size)
    return CorpusExport(name, CORPUS_CUSTOMERS[name], dest, pages, size)


def generated_export(dest: Path, *, pages: int = 300, repeat: int = 1) -> CorpusExport:
    """A stand-in corpus of ``pages`` Markdown pages in three spaces (used when ../shared is absent)."""
    texts = chunk_texts(pages * 6, size=900)
    rng = random.Random(5)
    size = 0
    for copy in range(repeat):
        for page in range(pages):
            space = ("ENG", "OPS", "HR")[page % 3]
            body = "\n\n".join(f"## Section {s}\n\n{texts[page * 6 + s]} [copy {copy}]" for s in range(6))
            text = f"# Generated page {page} ({rng.random():.4f})\n\n{body}\n"
            target = dest / space / (f"r{copy}" if copy else "") / f"page-{page:04d}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            size += len(text)
    return CorpusExport("generated", "generated", dest, pages * repeat, size)


def corpus_exports(base: Path, *, quick: bool = False, repeat: int = 1) -> list[CorpusExport]:
    """One export per available corpus (only the smallest in quick mode), else a generated one."""
    names = available_corpora()
    if quick:
        names = names[:1]
    if not names:
        return [generated_export(base / "generated", repeat=repeat)]
    return [export_corpus(name, base / name, repeat=repeat) for name in names]


def edit_pages(export: CorpusExport, fraction: float, *, seed: int = 3) -> list[Path]:
    """Append a new paragraph to ``fraction`` of the pages (at least one); returns the edited files."""
    files = sorted(export.export_dir.rglob("*.md"))
    count = max(1, round(len(files) * fraction))
    chosen = random.Random(seed).sample(files, count)
    for path in chosen:
        with path.open("a") as handle:
            handle.write("\n\n## Benchmark edit\n\nThis paragraph was added to measure an incremental re-index.\n")
    return chosen


def write_customer(customers_dir: Path, customer_id: str, export_dir: Path, **rag: object) -> Path:
    """A customer folder (config.yaml, state.json) whose pages come from ``export_dir`` (directory source)."""
    from tenant_rag.config import CustomerConfig
    from tenant_rag.customers import CustomerManager

    config = CustomerConfig.model_validate(
        {
            "customer_id": customer_id,
            "display_name": f"Benchmark {customer_id}",
            "schedule": None,
            "export": {"source": "directory", "path": str(export_dir)},
            "rag": dict(rag),
        }
    )
    return CustomerManager(customers_dir).create(config, exist_ok=True).root
