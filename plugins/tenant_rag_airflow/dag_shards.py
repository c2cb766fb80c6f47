"""Which DAG file builds which customer's DAG: shard files, a shard count derived from the customers.

The DAG processor parses and serialises one *file* per child process, under one timeout, and re-parses it every
``min_file_process_interval``; one file building every customer's DAG grows with the customer count until it times
out. So DAGs come from tiny shard files (``dags/tenant_rag_dags.py`` is shard 0, ``dags/tenant_rag_dags_01.py`` ...
the others), each building the customers of one shard:

* the number of *active* shards is derived from the number of customer folders, ``ceil(customers / shard size)``
  (``TENANT_RAG_DAG_SHARD_SIZE``, default ``tenant_rag.constants.DEFAULT_SHARD_SIZE``), at most the shard files
  present; files above it build nothing. ``TENANT_RAG_DAG_SHARDS`` pins the count instead (then no DAG ever moves
  between files);
* the repository ships ``SHIPPED_SHARD_FILES`` files (16,000 customers at the default shard size); past that, the
  DAG bundle ``tenant_rag_airflow.dag_bundle.CustomerShardsDagBundle`` writes the missing files when the DAG
  processor refreshes it (``python -m tenant_rag_airflow.dag_shards --write dags`` does the same by hand, e.g.
  for a read-only bundle), so a shard stays at the shard size at any customer count and nobody writes files;
* a customer's shard is a jump consistent hash (Lamping & Veach) of its folder name: when the count grows from
  n to n + 1 only about 1/(n + 1) of the customers move, all into the new file;
* a task process (``get_parsing_context().dag_id`` set) maps its DAG id to its shard with one directory listing and
  one hash, so the one file that owns the DAG builds it and every other file builds nothing.

Nothing here imports Airflow or pydantic: the DAG builder and the tests use it, and so does the generator of the
files. The environment is read through ``tenant_rag.parse_env`` (why, and what it costs otherwise: see there).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import sys
from pathlib import Path

from tenant_rag import parse_env
from tenant_rag_airflow.constants import DAG_ID_PREFIX

#: DAG files shipped in ``dags/`` (and the fewest ``--write`` leaves): SHIPPED_SHARD_FILES x shard size customers.
SHIPPED_SHARD_FILES = 32
FILE_STEM = "tenant_rag_dags"
_FILE_NAME = re.compile(rf"^{FILE_STEM}(?:_(\d+))?\.py$")

SHARD_FILE_TEXT = '''"""Customer DAGs, shard {index}; ``python -m tenant_rag_airflow.dag_shards --write dags`` wrote it.

Which customers this file builds is derived from the customer folders: see ``tenant_rag_airflow.dag_shards``.
A task process builds only its own DAG (``get_parsing_context``), and only in the file that owns it.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from tenant_rag_airflow.dag_shards import shard_builds

if shard_builds(__file__, get_parsing_context().dag_id):  # else this file costs no DAG-builder import at all
    from tenant_rag_airflow.dag_builder import load_shard_dags

    globals().update(load_shard_dags(__file__, only_dag_id=get_parsing_context().dag_id))
'''


class ShardConfigError(ValueError):
    """A file name that is not a shard file's (a bad ``TENANT_RAG_DAG_SHARDS`` is a ``SettingsError``)."""


def shard_file_name(index: int) -> str:
    return f"{FILE_STEM}.py" if index == 0 else f"{FILE_STEM}_{index:02d}.py"


def shard_index_of(dag_file: str | os.PathLike[str]) -> int:
    """The shard a DAG file stands for, from its name (``tenant_rag_dags.py`` is 0, ``tenant_rag_dags_07.py`` 7)."""
    match = _FILE_NAME.match(Path(dag_file).name)
    if match is None:
        raise ShardConfigError(f"{dag_file}: not a shard file name ({shard_file_name(0)}, {shard_file_name(1)}, ...)")
    return int(match.group(1) or 0)


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash: a bucket in ``[0, buckets)``; growing ``buckets`` by one moves 1/(buckets+1) of keys."""
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * 2862933555777941757 + 1) % (1 << 64)
        candidate = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(folder: str, count: int) -> int:
    """The shard (of ``count``) that builds the DAG of customer folder ``folder``."""
    return jump_hash(int.from_bytes(hashlib.sha256(folder.encode("utf-8")).digest()[:8], "big"), count)


def customer_folders(base: Path) -> list[str]:
    """Names of the customer folders under ``base`` (hidden ones skipped), one directory listing, no stat calls."""
    try:
        with os.scandir(base) as entries:
            return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def shard_size() -> int:
    return parse_env.dag_shard_size()


def shards_wanted(customers: int) -> int:
    """Shards for ``customers`` folders: pinned by ``TENANT_RAG_DAG_SHARDS`` or ``ceil(customers / shard size)``."""
    pinned = parse_env.dag_shards()
    return max(1, pinned if pinned is not None else math.ceil(customers / shard_size()))


def shard_count(customers: int, files: int = SHIPPED_SHARD_FILES) -> int:
    """Active shards for ``customers`` folders when ``files`` shard files are present: 1..files."""
    return max(1, min(files, shards_wanted(customers)))


def files_present(folder: str | os.PathLike[str]) -> int:
    """How many shard files ``folder`` holds without a gap from shard 0 (one directory listing)."""
    try:
        with os.scandir(folder) as entries:
            indices = {shard_index_of(e.name) for e in entries if _FILE_NAME.match(e.name)}
    except (FileNotFoundError, NotADirectoryError):
        return 0
    count = 0
    while count in indices:
        count += 1
    return count


def active_shards(dag_file: str | os.PathLike[str], customers: int) -> int:
    """Active shards for a shard file: derived from ``customers`` and capped by the files beside ``dag_file``."""
    return shard_count(customers, max(1, files_present(Path(dag_file).parent)))


def missing_files_note(folder: Path, customers: int) -> str | None:
    """A warning when ``customers`` want more shard files than ``folder`` holds (shards then grow past the size)."""
    wanted, present = shards_wanted(customers), files_present(folder)
    if wanted <= present:
        return None
    return (
        f"{customers} customers want {wanted} DAG shard files, {folder} holds {present}: each shard builds "
        f"~{math.ceil(customers / max(1, present))} DAGs instead of <= {shard_size()}. Use the DAG bundle "
        "tenant_rag_airflow.dag_bundle.CustomerShardsDagBundle (it writes them) or run "
        f"`python -m tenant_rag_airflow.dag_shards --write {folder}`"
    )


def shard_builds(dag_file: str | os.PathLike[str], only_dag_id: str | None) -> bool:
    """Whether shard file ``dag_file`` builds any DAG now: one directory listing and a hash, no Airflow, no config.

    False for a file above the active shard count, and in a task process for every file but the one owning its DAG,
    so those files never import the DAG builder (the DAG processor re-parses every file, empty or not).
    """
    folders = customer_folders(parse_env.customers_dir())
    index, count = shard_index_of(dag_file), active_shards(dag_file, len(folders))
    if index >= count:
        return False
    folder = (only_dag_id or "").removeprefix(DAG_ID_PREFIX)
    if only_dag_id is None or folder not in folders:
        return True  # the loader decides (placeholder DAGs of odd folder names included)
    return shard_of(folder, count) == index


def expected_files(count: int = SHIPPED_SHARD_FILES) -> dict[str, str]:
    return {shard_file_name(i): SHARD_FILE_TEXT.format(index=i) for i in range(count)}


def stale_files(folder: Path) -> list[str]:
    """Shard files in ``folder`` that are missing, differ from the generator, or stand after a gap.

    Files past ``SHIPPED_SHARD_FILES`` are fine when they continue the run without a gap (the bundle wrote them).
    """
    expected = expected_files(max(SHIPPED_SHARD_FILES, files_present(folder)))
    present = {p.name for p in folder.glob(f"{FILE_STEM}*.py") if _FILE_NAME.match(p.name)}
    wrong = [n for n, text in expected.items() if not (folder / n).is_file() or (folder / n).read_text() != text]
    return sorted(set(wrong) | (present - set(expected)))


def write_shard_files(folder: Path, customers: int, *, min_files: int = SHIPPED_SHARD_FILES) -> list[str]:
    """Write the shard files ``customers`` want (at least ``min_files``) that ``folder`` lacks or has wrong.

    Never removes a file (a file above the active count builds nothing); each file appears whole (write + rename),
    so a DAG processor listing the folder meanwhile never parses half a file. Returns the names written.
    """
    count = max(min_files, shards_wanted(customers), files_present(folder))
    written = []
    for name, text in expected_files(count).items():
        target = folder / name
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        partial = folder / f".{name}.partial"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write or check the shard DAG files")
    parser.add_argument("--write", metavar="DAGS_DIR", type=Path, help="(re)write the shard files into DAGS_DIR")
    parser.add_argument("--check", metavar="DAGS_DIR", type=Path, help="exit 1 if DAGS_DIR's shard files differ")
    args = parser.parse_args(argv)
    folder = args.write or args.check
    if folder is None:
        parser.error("give --write or --check")
    if args.write:
        present = {p.name for p in folder.glob(f"{FILE_STEM}*.py") if _FILE_NAME.match(p.name)}
        written = write_shard_files(folder, len(customer_folders(parse_env.customers_dir())))
        for name in sorted(present - set(expected_files(files_present(folder)))):
            (folder / name).unlink()  # after a gap: never parsed as a shard
        print(f"{files_present(folder)} shard files in {folder} ({len(written)} written)")
        return 0
    stale = stale_files(folder)
    print("\n".join(stale) or "shard files up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
