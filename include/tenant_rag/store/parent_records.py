"""A parent document as a query returns it: its text, heading path and its page's metadata, read from one
generation of a customer's store (the columns, the join to the page, and the reads by parent id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from tenant_rag.store.hits import Hit
from tenant_rag.store.names import StoreNames


@dataclass(frozen=True)
class ParentRecord:
    parent_id: str
    page_id: str
    text: str
    heading_path: tuple[str, ...]
    title: str
    url: str | None
    space_key: str
    rel_path: str
    breadcrumbs: tuple[str, ...]
    labels: tuple[str, ...]
    version: int | None
    last_modified: datetime | None


# The columns of a ParentRecord, read from parents ``p`` joined with their page ``d`` (see ``parent_record``).
PARENT_RECORD_COLUMNS = (
    "p.parent_id, p.page_id, p.text, p.heading_path, d.title, d.url, d.space_key, d.rel_path,"
    " d.breadcrumbs, d.labels, d.version, d.last_modified"
)
# The page of each parent by primary key (LATERAL ... LIMIT 1 keeps the planner from hashing the whole documents
# table for a handful of parents).
PAGE_OF_PARENT = "CROSS JOIN LATERAL (SELECT * FROM {documents} AS doc WHERE doc.page_id = p.page_id LIMIT 1) AS d"


def parent_record(row: Sequence[Any]) -> ParentRecord:
    """A ParentRecord from the first columns of a row selected with ``PARENT_RECORD_COLUMNS``."""
    return ParentRecord(
        parent_id=row[0],
        page_id=row[1],
        text=row[2],
        heading_path=tuple(row[3] or ()),
        title=row[4],
        url=row[5],
        space_key=row[6],
        rel_path=row[7],
        breadcrumbs=tuple(row[8] or ()),
        labels=tuple(row[9] or ()),
        version=row[10],
        last_modified=row[11],
    )


def load_parents(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, parent_ids: Sequence[str]
) -> dict[str, ParentRecord]:
    """Text, heading path and page metadata of the given parents."""
    if not parent_ids:
        return {}
    statement = sql.SQL("SELECT " + PARENT_RECORD_COLUMNS + " FROM {parents} AS p " + PAGE_OF_PARENT).format(
        parents=names.gen_table(generation, "parents"), documents=names.gen_table(generation, "documents")
    ) + sql.SQL(" WHERE p.parent_id = ANY(%s)")
    rows = conn.execute(statement, (list(parent_ids),)).fetchall()
    return {row[0]: parent_record(row) for row in rows}


def with_records(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, hits: Sequence[Hit]
) -> list[tuple[Hit, ParentRecord]]:
    """Each hit with its parent's record, in the hits' order (a parent gone since the search is left out)."""
    records = load_parents(conn, names, generation, [hit.parent_id for hit in hits])
    return [(hit, records[hit.parent_id]) for hit in hits if hit.parent_id in records]
