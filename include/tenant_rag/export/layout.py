"""Where each page goes: ``exports/<space>/<ancestor>/.../<page>.md``, with safe, bounded, unique names.

A page with children gets ``<name>.md`` and a folder ``<name>/`` for them. Names come from titles: Unicode is kept
(NFC), path separators, characters Windows/macOS refuse, control and bidi-format characters are replaced, leading
dots (hidden files) and reserved device names are neutralised, and each name is cut to ``MAX_NAME_BYTES`` of UTF-8.
Siblings whose names collide (case-insensitively) are told apart by page id: the lowest id keeps the plain name
so an existing file does not move when a newcomer arrives. Nothing built here can leave the space folder.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tenant_rag.export.errors import ExportError

MAX_NAME_BYTES = 100
_FORBIDDEN = set('/\\:*?"<>|')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True)
class TreeNode:
    page_id: str
    title: str
    parent_id: str | None


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip()


def safe_name(title: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file-system-safe name for a title (without the ``.md``); never empty, never ``.``/``..``."""
    out = []
    for ch in unicodedata.normalize("NFC", title):
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN:
            out.append("_")
        elif ch.isspace():
            out.append(" ")
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    name = " ".join("".join(out).split())
    name = _truncate_utf8(name, max_bytes).rstrip(" .")
    if name.startswith("."):
        name = "_" + name.lstrip(".")
    if name.split(".")[0].strip().lower() in _RESERVED:
        name = "_" + name
    if name.lower().endswith(".md"):
        name += "_"
    return name or "untitled"


def _numeric_key(page_id: str) -> tuple[int, int | str]:
    return (0, int(page_id)) if page_id.isdigit() else (1, page_id)


def plan_paths(nodes: Iterable[TreeNode]) -> dict[str, str]:
    """Page id -> posix path relative to the space folder (``"Parent/Child.md"``) for every node.

    A node whose parent is not among ``nodes`` (a root, or a parent out of reach) sits at the top; cycles in bad
    data are broken the same way.
    """
    by_id = {node.page_id: node for node in nodes}
    parent_of = {pid: n.parent_id if n.parent_id in by_id and n.parent_id != pid else None for pid, n in by_id.items()}
    _break_cycles(parent_of)
    children: dict[str | None, list[TreeNode]] = {}
    for page_id, node in by_id.items():
        children.setdefault(parent_of[page_id], []).append(node)
    names: dict[str, str] = {}
    for siblings in children.values():
        taken: set[str] = set()
        for node in sorted(siblings, key=lambda n: _numeric_key(n.page_id)):
            base = safe_name(node.title)
            candidate, counter = base, 1
            while candidate.casefold() in taken:
                tag = safe_name(node.page_id, 40) + ("" if counter == 1 else f"-{counter}")
                candidate = f"{base} ({tag})"
                counter += 1
            taken.add(candidate.casefold())
            names[node.page_id] = candidate
    paths: dict[str, str] = {}
    stack: list[tuple[str | None, str]] = [(None, "")]
    while stack:  # iterative: deep trees must not hit the recursion limit
        parent, prefix = stack.pop()
        for node in children.get(parent, []):
            paths[node.page_id] = f"{prefix}{names[node.page_id]}.md"
            stack.append((node.page_id, f"{prefix}{names[node.page_id]}/"))
    return paths


def _reachable(parent_of: dict[str, str | None]) -> set[str]:
    children: dict[str | None, list[str]] = {}
    for page_id, parent in parent_of.items():
        children.setdefault(parent, []).append(page_id)
    seen: set[str] = set()
    stack: list[str | None] = [None]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def _break_cycles(parent_of: dict[str, str | None]) -> None:
    """Pages caught in a parent cycle (bad data) become roots: the lowest id of each cycle is cut loose."""
    reachable = _reachable(parent_of)
    while len(reachable) < len(parent_of):
        stuck = min((pid for pid in parent_of if pid not in reachable), key=_numeric_key)
        parent_of[stuck] = None
        reachable = _reachable(parent_of)


def breadcrumbs(page_id: str, titles: dict[str, str], parents: dict[str, str | None]) -> list[str]:
    """Ancestor titles from the root down (cycle-safe)."""
    trail: list[str] = []
    seen = {page_id}
    current = parents.get(page_id)
    while current and current in titles and current not in seen:
        seen.add(current)
        trail.append(titles[current])
        current = parents.get(current)
    return list(reversed(trail))


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would leave ``root`` (absolute paths, ``..``, symlinks)."""
    pure = PurePosixPath(relative)
    if relative.startswith("/") or any(part in ("", ".", "..") for part in relative.split("/")) or "\x00" in relative:
        raise ExportError(f"refusing export path {relative!r}: it would leave {root}")
    target = root.joinpath(*pure.parts)
    resolved_root = os.path.realpath(root)
    if os.path.commonpath([resolved_root, os.path.realpath(target)]) != resolved_root:
        raise ExportError(f"refusing export path {relative!r}: it resolves outside {root}")
    return target
