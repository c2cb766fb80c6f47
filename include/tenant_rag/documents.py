"""Exported pages on disk: Markdown files with optional YAML front matter, one tree per space.

This is the contract between the exporter (which writes ``exports/<space_key>/.../<page>.md``) and the RAG core
(which reads them). A file without front matter is a page too: its identity is its path relative to the export
root and its space is the first folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tenant_rag.permissions import Readers
from tenant_rag.yamlio import load_yaml

FRONT_MATTER_FIELDS = (
    "page_id",
    "title",
    "space_key",
    "version",
    "last_modified",
    "url",
    "breadcrumbs",
    "labels",
    "parent_id",
    "readers",  # who may read the page (``tenant_rag.permissions.Readers``); absent outside Confluence exports
)


# PostgreSQL text cannot hold NUL (U+0000; the one character valid UTF-8 it refuses): a page carrying one would make
# every write of its batch fail. It means nothing in text, so ``read_page`` removes it, the one place pages are read.
NUL = "\x00"
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1  # the range of the stored version (a PostgreSQL integer)
CLEANED_FIELDS = ("title", "body", "url", "breadcrumbs", "labels", "parent_id")

# libyaml's parser when PyYAML was built with it (the wheels are): front matter is parsed for every page of every
# run, and the pure-Python parser was 80% of an unchanged re-run.


class PageFormatError(ValueError):
    """A page file that cannot be read (bad front matter, not UTF-8); names the file."""


class PageOutsideRootError(PageFormatError):
    """A page file or folder that is a link leading out of the source root (another customer's files, secrets):
    refused, never read. Unlike other unreadable files, it does not keep a page that was indexed from it."""

    kind = "outside_root"


@dataclass(frozen=True)
class ExportedPage:
    page_id: str
    space_key: str
    title: str
    rel_path: str
    body: str
    version: int | None = None
    last_modified: datetime | None = None
    url: str | None = None
    breadcrumbs: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    parent_id: str | None = None
    readers: Readers | None = None  # None: not recorded (a directory source); a damaged value reads as unknown
    extra: dict[str, Any] = field(default_factory=dict)
    cleaned: tuple[str, ...] = ()  # the fields NUL characters were removed from (``read_page``)

    @property
    def content_hash(self) -> str:
        """sha256 of what is indexed: title, breadcrumbs and body (not version or timestamps)."""
        digest = hashlib.sha256()
        for part in (self.title, "\x1f".join(self.breadcrumbs), self.body):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x1e")
        return digest.hexdigest()


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). Text without a leading ``---`` block has empty front matter."""
    if not text.startswith("---\n") and not text.startswith("---\r\n"):
        return {}, text
    end = text.find("\n---", 3)
    if end == -1:
        raise PageFormatError("front matter starts with '---' but is never closed")
    header = text[4:end]
    rest = text[end + 4 :]
    body = rest[1:] if rest.startswith("\n") else rest.lstrip("\r\n") if rest.startswith("\r") else rest
    try:
        meta = load_yaml(header) or {}
    except yaml.YAMLError as exc:
        raise PageFormatError(f"front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise PageFormatError("front matter must be a mapping")
    return meta, body


def render_page(meta: dict[str, Any], body: str) -> str:
    """Markdown text with ``meta`` as YAML front matter (keys in ``FRONT_MATTER_FIELDS`` order first)."""
    ordered = {k: meta[k] for k in FRONT_MATTER_FIELDS if k in meta and meta[k] is not None}
    ordered.update({k: v for k, v in meta.items() if k not in ordered and v is not None})
    header = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return f"---\n{header}---\n{body if body.endswith(chr(10)) else body + chr(10)}"


def _title_from(body: str, fallback: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def _read_inside(path: Path, export_root: Path) -> str:
    """The text of ``path`` if, with every link and ``..`` resolved, it is a regular file inside ``export_root``."""
    root = os.path.realpath(export_root)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        what = "folder" if os.path.isdir(real) else "file"
        raise PageOutsideRootError(f"{path}: a link to a {what} outside the source folder {export_root}; refused")
    # O_NOFOLLOW: a link swapped in after the check is not followed; O_NONBLOCK: a FIFO cannot hang the run
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise PageFormatError(f"{path}: not a regular file")
        return file.read().decode("utf-8")


def read_page(path: Path, export_root: Path) -> ExportedPage:
    """Read one page file; raise ``PageFormatError`` naming the file when it is unusable, and
    ``PageOutsideRootError`` when it (or a folder on its way) is a link leading out of ``export_root``."""
    rel = path.relative_to(export_root).as_posix()
    try:
        text = _read_inside(path, export_root)
    except UnicodeDecodeError as exc:
        raise PageFormatError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        meta, body = split_front_matter(text)
    except PageFormatError as exc:
        raise PageFormatError(f"{path}: {exc}") from None
    space = str(meta.get("space_key") or rel.split("/", 1)[0])
    version = meta.get("version")
    last_modified = meta.get("last_modified")
    if isinstance(last_modified, str):
        try:
            last_modified = datetime.fromisoformat(last_modified.replace("Z", "+00:00"))
        except ValueError:
            raise PageFormatError(f"{path}: field 'last_modified' is not an ISO time: {last_modified!r}") from None
    if version is not None and (not isinstance(version, int) or not INT4_MIN <= version <= INT4_MAX):
        raise PageFormatError(f"{path}: field 'version' must be an integer of 32 bits, got {version!r}")
    known = set(FRONT_MATTER_FIELDS)
    page = ExportedPage(
        page_id=str(meta.get("page_id") or f"path:{rel}"),
        space_key=space,
        title=str(meta.get("title") or _title_from(body, path.stem)),
        rel_path=rel,
        body=body,
        version=version,
        last_modified=last_modified if isinstance(last_modified, datetime) else None,
        url=meta.get("url"),
        breadcrumbs=tuple(str(b) for b in meta.get("breadcrumbs") or ()),
        labels=tuple(str(label) for label in meta.get("labels") or ()),
        parent_id=str(meta["parent_id"]) if meta.get("parent_id") is not None else None,
        readers=Readers.from_json(meta["readers"]) if meta.get("readers") is not None else None,
        extra={k: v for k, v in meta.items() if k not in known},
    )
    return _without_nul(page, path)


def _without_nul(page: ExportedPage, path: Path) -> ExportedPage:
    """``page`` with NUL characters removed from its text fields, which ``cleaned`` names; a NUL in its identity
    (page id or space key) is refused instead: silently changing what a page is would be worse than skipping it.

    The parsed fields are checked, not the file: front matter can spell a NUL as a YAML escape (``"\\0"``)."""
    for name in ("page_id", "space_key"):
        if NUL in getattr(page, name):
            raise PageFormatError(f"{path}: field {name!r} contains a NUL character (\\x00)")
    changes: dict[str, Any] = {}
    for name in CLEANED_FIELDS:
        value = getattr(page, name)
        if isinstance(value, str) and NUL in value:
            changes[name] = value.replace(NUL, "")
        elif isinstance(value, tuple) and any(NUL in item for item in value):
            changes[name] = tuple(item.replace(NUL, "") for item in value)
    return dataclasses.replace(page, **changes, cleaned=tuple(changes)) if changes else page


def iter_page_files(export_root: Path, space_keys: list[str] | None = None) -> Iterator[Path]:
    """Markdown files under ``export_root/<space>/`` in sorted order (hidden files and folders skipped).

    Links are never followed into folders. A link named ``*.md`` is yielded (``read_page`` reads it only if it
    resolves inside the root); a linked folder is yielded too when it leads out of the root, so the caller records
    the refusal, and skipped silently when it stays inside (its files are reached by their own path).
    """
    if not export_root.is_dir():
        return
    root = os.path.realpath(export_root)
    for space_dir in _entries(export_root):
        if space_keys is not None and space_dir.name not in space_keys:
            continue
        if space_dir.is_symlink():
            if space_dir.is_dir() and not _inside(root, space_dir):
                yield space_dir
        elif space_dir.is_dir():
            yield from _walk(space_dir, root)


def _entries(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def _inside(root: str, path: Path) -> bool:
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def _walk(folder: Path, root: str) -> Iterator[Path]:
    """Depth-first and sorted like ``sorted(rglob("*.md"))``, never through a link."""
    found: list[Path] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = _entries(current)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                if entry.suffix == ".md" or (entry.is_dir() and not _inside(root, entry)):
                    found.append(entry)
            elif entry.is_dir():
                stack.append(entry)
            elif entry.suffix == ".md":
                found.append(entry)
    yield from sorted(found)
