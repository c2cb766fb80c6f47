"""Two activations of one generation at once (runs that bypass the customer's run lease, e.g. direct pipeline
calls): the index builds happen under the store lock, so both succeed instead of one failing with a unique
violation from ``CREATE INDEX IF NOT EXISTS``."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from tenant_rag.db import ensure_vector_types
from tenant_rag.store.generations import Target, activate, list_generations, register_target, signature_for
from tenant_rag.store.schema import create_store, store_names
from tests.integration.rag.rag_core_support import make_config

ROUNDS = 4


def _activate_twice_at_once(pg_url: str, customer_id: str) -> list[Any]:
    config = make_config(customer_id)
    names = store_names(config)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ensure_vector_types(conn)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
    start = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def contender(slot: int) -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                ensure_vector_types(conn)
                start.wait(timeout=60)
                outcomes[slot] = ("ok", activate(conn, names, 1))
        except Exception as exc:  # reported below, with its type
            outcomes[slot] = ("error", repr(exc))

    threads = [threading.Thread(target=contender, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "an activation did not finish within 300s"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        generations = list_generations(conn, names)
    assert [(g.number, g.status) for g in generations] == [(1, "active")]
    return outcomes


def test_two_concurrent_activations_of_one_generation_both_succeed(pg_url: str) -> None:
    for round_number in range(ROUNDS):  # the race lost 5 times in 8 before the fix: several rounds
        outcomes = _activate_twice_at_once(pg_url, f"race{round_number}")
        assert outcomes == [("ok", None), ("ok", None)], outcomes
