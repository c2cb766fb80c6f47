"""When the upsert stage refreshes planner statistics itself (VACUUM ANALYZE) and when it leaves that to autovacuum."""

from __future__ import annotations

from tenant_rag.pipeline.upsert import ANALYZE_SHARE, needs_analyze
from tenant_rag.store.generations import Signature, Target

SIGNATURE = Signature("wordllama-l2-256", "wordllama-l2-256", 256, "english")


def test_a_run_that_wrote_nothing_never_analyzes() -> None:
    assert not needs_analyze(Target(1, "active", SIGNATURE), 0, 0, 1000)
    assert not needs_analyze(Target(1, "new", SIGNATURE), 0, 0, 0)


def test_a_generation_being_built_is_always_analyzed() -> None:
    assert needs_analyze(Target(1, "new", SIGNATURE), 1, 0, 0)
    assert needs_analyze(Target(2, "building", SIGNATURE, 1), 1, 0, 10_000)


def test_the_live_generation_is_analyzed_only_after_a_large_enough_change() -> None:
    live = Target(1, "active", SIGNATURE)
    threshold = int(ANALYZE_SHARE * 1000)
    assert not needs_analyze(live, threshold - 1, 0, 1000)
    assert needs_analyze(live, threshold, 0, 1000)
    assert needs_analyze(live, 0, threshold, 1000)  # deletions count too
    assert needs_analyze(live, 1, 0, 0)  # nothing was indexed before: any write is large
