"""Reciprocal rank fusion of the vector and lexical parent rankings (no database needed)."""

from __future__ import annotations

import pytest

from tenant_rag.store.hybrid_search import rrf_fuse
from tenant_rag.store.search import Hit


def _hits(ids: list[str]) -> list[Hit]:
    return [Hit(pid, 1.0 / rank) for rank, pid in enumerate(ids, 1)]


def test_rrf_rewards_agreement_and_keeps_ranks() -> None:
    fused = rrf_fuse(_hits(["a", "b", "c"]), _hits(["c", "b", "d"]), k=4, rrf_k=60)
    assert [hit.parent_id for hit in fused] == ["c", "b", "a", "d"]  # 1/61 + 1/63 > 2/62 > 1/61
    ranks = {hit.parent_id: (hit.vector_rank, hit.lexical_rank) for hit in fused}
    assert ranks["b"] == (2, 2) and ranks["a"] == (1, None) and ranks["c"] == (3, 1)
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63) and fused[1].score == pytest.approx(2 / 62)


def test_rrf_with_one_empty_ranking_is_that_ranking() -> None:
    assert [hit.parent_id for hit in rrf_fuse(_hits(["x", "y", "z"]), [], k=2)] == ["x", "y"]
    assert [hit.parent_id for hit in rrf_fuse([], _hits(["p", "q"]), k=5)] == ["p", "q"]


def test_rrf_ties_go_to_the_vector_ranking() -> None:
    fused = rrf_fuse(_hits(["v1", "v2"]), _hits(["l1", "l2"]), k=4)
    assert [hit.parent_id for hit in fused] == ["v1", "l1", "v2", "l2"]
