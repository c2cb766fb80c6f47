"""Which question terms must select BM25 candidates: the MaxScore bound and the cheap first selection."""

from __future__ import annotations

import random

from tenant_rag.store.bm25_search import FIRST_PASS_SHARE, _essential, _first_selection, _Term

K1 = 1.2


def _terms(rng: random.Random, count: int, chunks: float) -> list[_Term]:
    dfs = sorted(rng.uniform(1, chunks) for _ in range(count))
    return [_Term(f"t{i}", 1.0 / df + 0.1, df) for i, df in enumerate(dfs)]  # rarest (highest idf) first


def test_the_essential_terms_are_the_fewest_that_leave_out_only_chunks_below_the_floor() -> None:
    rng = random.Random(3)
    for _ in range(500):
        terms = _terms(rng, rng.randint(1, 9), 1000.0)
        floor = rng.uniform(0, sum(t.idf * (K1 + 1) for t in terms))
        needed = _essential(terms, K1, floor)
        left_out = [sum(t.idf * (K1 + 1) for t in terms[m:]) for m in range(len(terms) + 1)]
        assert left_out[needed] <= floor + 1e-9
        assert needed == 0 or left_out[needed - 1] > floor


def test_without_a_floor_every_term_selects() -> None:
    terms = _terms(random.Random(5), 4, 100.0)
    assert _essential(terms, K1, 0.0) == 4


def test_the_first_selection_takes_the_rarest_terms_up_to_a_share_of_the_chunks_and_at_least_one() -> None:
    chunks = 1000.0
    share = FIRST_PASS_SHARE * chunks
    terms = [_Term("a", 5.0, share / 4), _Term("b", 4.0, share / 2), _Term("c", 1.0, share)]
    assert _first_selection(terms, chunks) == 2
    assert _first_selection([_Term("common", 0.1, chunks)], chunks) == 1
