"""What the local server answered, counted by kind of request and status, on the server side.

A test reads it to prove what a client did without trusting the client's own counters: for example that a repeat
run downloaded no page body (``count("page", "200") == 0``) and no file (``count("download", "200") == 0``).
Kinds: ``page`` (one page: v2 ``pages/{id}``, v1 ``content/{id}``), ``download`` (a file's bytes), ``listing``
(v2 ``spaces/{id}/pages`` and ``pages``, v1 ``content``), ``search`` (v1 ``content/search``), ``children`` (a
page's attachments, comments, labels, ancestors), ``folder``, ``space``, ``user``, ``other``. Statuses are the
HTTP status as text, or ``drop`` for a connection the fault injector closed without answering.
"""

from __future__ import annotations

import threading
from collections import Counter

KINDS = ("page", "download", "listing", "search", "children", "folder", "space", "user", "other")


def request_kind(path: str, context: str) -> str:
    """The kind of a request path (without its query), for a server whose context path is ``context``."""
    rest = path[len(context) :] if context and path.startswith(context) else path
    if rest.startswith("/download/attachments/"):
        return "download"
    for prefix in ("/api/v2/", "/rest/api/"):
        if rest.startswith(prefix):
            parts = [part for part in rest[len(prefix) :].split("/") if part]
            return _kind(parts, v2=prefix == "/api/v2/")
    return "other"


def _kind(parts: list[str], *, v2: bool) -> str:
    pages, head = ("pages" if v2 else "content"), parts[0] if parts else ""
    if parts == [pages] or (v2 and len(parts) == 3 and head == "spaces" and parts[2] == "pages"):
        return "listing"
    if not v2 and parts == ["content", "search"]:
        return "search"
    if head == pages:
        return "page" if len(parts) == 2 else "children"
    if head in ("spaces", "space"):
        return "space"
    if head in ("folders", "whiteboards", "databases", "embeds"):
        return "folder"
    return "user" if head == "user" else "other"


class Traffic:
    """Thread-safe counts of (kind, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, kind: str, status: int | str) -> None:
        with self._lock:
            self._counts[(kind, str(status))] += 1

    def count(self, kind: str | None = None, status: str | None = None) -> int:
        """Requests of ``kind`` (any when None) answered with ``status`` (any when None)."""
        with self._lock:
            return sum(n for (k, s), n in self._counts.items() if (kind is None or k == kind) and (status in (None, s)))

    def by_kind(self) -> dict[str, dict[str, int]]:
        """``{kind: {status: count}}``, sorted."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (kind, status), n in sorted(self._counts.items()):
                out.setdefault(kind, {})[status] = n
            return out

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
