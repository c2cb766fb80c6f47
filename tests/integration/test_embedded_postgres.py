"""The embedded PostgreSQL really runs pgvector >= 0.8 with HNSW and iterative scans."""

from __future__ import annotations

import psycopg


def test_vector_extension_is_at_least_0_8(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        (version,) = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    major, minor = (int(part) for part in version.split(".")[:2])
    assert (major, minor) >= (0, 8), version


def test_hnsw_index_builds_and_iterative_scan_is_settable(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3))")
        conn.execute("INSERT INTO items SELECT i, ARRAY[i, i % 7, 1]::float4[]::vector FROM generate_series(1, 500) i")
        conn.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        assert conn.execute("SHOW hnsw.iterative_scan").fetchone() == ("relaxed_order",)
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <=> '[1,1,1]' LIMIT 5")
        )
        assert "items_embedding_idx" in plan
        rows = conn.execute("SELECT id FROM items ORDER BY embedding <=> '[1,1,1]' LIMIT 5").fetchall()
        assert len(rows) == 5


def test_each_test_gets_a_fresh_database(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    assert tables == (0,)
