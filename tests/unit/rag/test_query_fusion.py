"""Reciprocal rank fusion of the vector and lexical parent rankings (no database needed)."""

from __future__ import annotations

import pytest

from tenant_rag.chunking import chunk_page
from tenant_rag.config import RAGConfig
from tenant_rag.documents import ExportedPage
from tenant_rag.store.hits import Hit, best_per_page
from tenant_rag.store.hybrid_search import LEXICAL_WEIGHT, RRF_K, rrf_fuse


def _hits(ids: list[str]) -> list[Hit]:
    return [Hit(pid, 1.0 / rank) for rank, pid in enumerate(ids, 1)]


def test_rrf_rewards_agreement_and_keeps_ranks() -> None:
    fused = rrf_fuse(_hits(["a", "b", "c"]), _hits(["c", "b", "d"]), k=4, rrf_k=60, lexical_weight=1.0)
    assert [hit.parent_id for hit in fused] == ["c", "b", "a", "d"]  # 1/61 + 1/63 > 2/62 > 1/61
    ranks = {hit.parent_id: (hit.vector_rank, hit.lexical_rank) for hit in fused}
    assert ranks["b"] == (2, 2) and ranks["a"] == (1, None) and ranks["c"] == (3, 1)
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63) and fused[1].score == pytest.approx(2 / 62)


def test_rrf_with_one_empty_ranking_is_that_ranking() -> None:
    assert [hit.parent_id for hit in rrf_fuse(_hits(["x", "y", "z"]), [], k=2)] == ["x", "y"]
    assert [hit.parent_id for hit in rrf_fuse([], _hits(["p", "q"]), k=5)] == ["p", "q"]


def test_rrf_ties_go_to_the_vector_ranking() -> None:
    fused = rrf_fuse(_hits(["v1", "v2"]), _hits(["l1", "l2"]), k=4, lexical_weight=1.0)
    assert [hit.parent_id for hit in fused] == ["v1", "l1", "v2", "l2"]


def test_a_page_fills_one_slot_with_the_parent_that_ranks_it_better() -> None:
    vector = _hits(["a#p0", "b#p3", "a#p1", "c#p0"])  # a ranking may hold a page twice: its first parent counts
    lexical = _hits(["b#p1", "d#p0", "a#p2"])
    fused = rrf_fuse(vector, lexical, k=10, rrf_k=60, lexical_weight=1.0)
    assert [hit.parent_id for hit in fused] == ["b#p1", "a#p0", "d#p0", "c#p0"]  # b: lexical 1st, vector 2nd
    ranks = {hit.page_id: (hit.vector_rank, hit.lexical_rank) for hit in fused}
    assert ranks == {"a": (1, 3), "b": (2, 1), "c": (3, None), "d": (None, 2)}
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert rrf_fuse(_hits(["b#p3", "x#p0"]), _hits(["y#p0", "b#p1"]), k=1)[0].parent_id == "b#p3"
    assert [hit.parent_id for hit in rrf_fuse(_hits(["q#p0"]), _hits(["q#p1"]), k=3)] == ["q#p0"]  # tie: vector


def test_the_default_fusion_weights_the_lexical_ranking_four_to_one() -> None:
    assert (RRF_K, LEXICAL_WEIGHT) == (10, 4.0)  # chosen on the dev benchmark: see hybrid_search's docstring
    fused = rrf_fuse(_hits(["v1", "v2"]), _hits(["l1", "l2"]), k=4)
    assert [hit.parent_id for hit in fused] == ["l1", "l2", "v1", "v2"]
    assert fused[0].score == pytest.approx(4 / 11) and fused[2].score == pytest.approx(1 / 11)
    # agreement still wins: a page both rank second beats the lexical ranking's first alone
    both = rrf_fuse(_hits(["v1", "x"]), _hits(["l1", "x"]), k=3)
    assert [hit.parent_id for hit in both] == ["x", "l1", "v1"]  # 1/12 + 4/12 > 4/11


def test_best_per_page_keeps_the_first_hit_of_each_page_in_order() -> None:
    hits = _hits(["p#1", "q#1", "p#2", "r", "q#2", "a#b#p0", "a#b#p1"])
    assert [hit.parent_id for hit in best_per_page(hits)] == ["p#1", "q#1", "r", "a#b#p0"]
    assert [hit.page_id for hit in hits] == ["p", "q", "p", "r", "q", "a#b", "a#b"]


def test_chunk_ids_name_their_page_as_hits_read_it() -> None:
    body = "## A\n\n" + "word " * 400 + "\n\n## B\n\nx"
    page = ExportedPage(page_id="12#3", space_key="ENG", title="T", rel_path="ENG/x.md", body=body)
    parents, children = chunk_page(page, RAGConfig(chunk_size=200, chunk_overlap=0, parent_chunk_size=300))
    assert len(parents) > 1
    assert {Hit(parent.parent_id, 1.0).page_id for parent in parents} == {"12#3"}
    assert {Hit(child.parent_id, 1.0).page_id for child in children} == {"12#3"}
