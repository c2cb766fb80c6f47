"""The lexical analyser: its fast path gives, text for text, what the reference analyser (its previous form) gave.

The reference (``reference_text_analysis``) is compared on edge cases here and on every text of the three shared
corpora (skipped with the reason when ../shared is absent); a few outputs are also spelled out by hand.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tenant_rag import text_analysis
from tenant_rag.text_analysis import MAX_FREQ, Analyzer, ChunkTerms, UnknownLanguageError, analyzer_for, words

from .reference_text_analysis import ReferenceAnalyzer

EDGE_TEXTS = [
    "",
    "   \n\t  ",
    "the and of a an is",  # only stop words
    "He said \"use the index\" and 'don't' — “smart quotes” ‘too’ «guillemets» „low“",
    "Punctuation!!! everywhere?? (yes) [really] {braces}; semi:colon, comma. dot... e.g. i.e. 3.14 -1 +2 50% $5 #tag",
    "snake_case_name camelCaseName kebab-case-name dotted.module.path foo() bar[0] a->b x::y __dunder__ _private",
    "SELECT * FROM pg_catalog.pg_class WHERE relname = 'x'; kubectl get pods -n kube-system --output=json",
    "Café naïve résumé Straße STRASSE İstanbul ΣΊΣΥΦΟΣ Ünïcödé ﬁle Ⅻ ①②③ ２０２６ 東京 データベース 😀 a\u0301",
    "tab\tseparated\u00a0non-breaking\u2009thin\u200bzero-width\u2028line-separator end",
    "Indexes indexing indexed INDEX index's",
    "x" * 60 + " " + "y" * 61 + " " + "z" * 200,
    "running runs ran runner " * 40,
    "mixed ASCII and ünicode: the ﬁrst word and the last word",
    "1 22 333 4444 v1.2.3 0x1F ipv6 ::1 2026-12-03T11:46:51Z",
]
CONTEXTS = ["", "Guide", "Page 12 > Guide > Part 3", "Café > Straße\nIndexes and indexing", "the > a > of"]
LANGUAGES = ["english", "simple", "german"]


def _as_tuple(terms: ChunkTerms) -> tuple[str, str, int]:
    return terms.terms, terms.freqs, terms.length


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("text", EDGE_TEXTS)
def test_edge_cases_match_the_reference(language: str, text: str) -> None:
    analyzer, reference = Analyzer(language), ReferenceAnalyzer(language)
    for context in CONTEXTS:
        assert _as_tuple(analyzer.chunk_terms(text, context)) == reference.chunk_terms(text, context)
        assert _as_tuple(analyzer.chunk_terms(context, text)) == reference.chunk_terms(context, text)
    assert analyzer.question_terms(text) == reference.question_terms(text)


def test_outputs_spelled_out() -> None:
    analyzer = Analyzer("english")
    assert analyzer.chunk_terms("", "") == ChunkTerms("", "", 0)
    assert analyzer.chunk_terms("the and of", "a") == ChunkTerms("", "", 0)
    assert analyzer.chunk_terms("Indexes indexing INDEX", "") == ChunkTerms("index", "3", 3)
    # context words count twice; terms in code-point order
    assert analyzer.chunk_terms("Database backups", "Backup guide") == ChunkTerms("backup databas guid", "3 1 2", 6)
    assert analyzer.chunk_terms("snake_case camelCase kebab-case", "") == ChunkTerms(
        "camelcas case kebab snake", "1 2 1 1", 5
    )
    assert analyzer.chunk_terms("“won’t” Café", "") == ChunkTerms("café won", "1 1", 2)  # "t" is a stop word
    assert analyzer.chunk_terms("x" * 60 + " " + "y" * 61, "") == ChunkTerms("x" * 60, "1", 1)
    assert analyzer.question_terms('How do I "restore" a backup? -restore backups') == ["restor", "backup"]
    assert Analyzer("simple").chunk_terms("The Indexes", "") == ChunkTerms("indexes the", "1 1", 2)


def test_words_take_the_same_cut_for_ascii_and_other_text() -> None:
    assert words("Foo_bar-BAZ 42x") == ["foo", "bar", "baz", "42x"]
    assert words("Foo_bar-BAZ 42x é") == ["foo", "bar", "baz", "42x", "é"]
    assert words("") == []


def test_frequencies_are_capped_but_the_length_is_not() -> None:
    analyzer = Analyzer("english")
    text = "word " * (MAX_FREQ + 5)
    assert analyzer.chunk_terms(text, "") == ChunkTerms("word", str(MAX_FREQ), MAX_FREQ + 5)
    assert _as_tuple(analyzer.chunk_terms(text, "")) == ReferenceAnalyzer("english").chunk_terms(text, "")


def test_the_stem_cache_is_bounded_and_clearing_it_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_analysis, "MAX_CACHED_STEMS", 5)
    analyzer, reference = Analyzer("english"), ReferenceAnalyzer("english")
    for text in EDGE_TEXTS:
        assert _as_tuple(analyzer.chunk_terms(text, "Guide")) == reference.chunk_terms(text, "Guide")
        assert len(analyzer._terms) <= 5


def test_threads_share_one_analyser() -> None:
    analyzer, reference = Analyzer("english"), ReferenceAnalyzer("english")
    expected = [reference.chunk_terms(text, "Guide") for text in EDGE_TEXTS]
    results: list[list[tuple[str, str, int]]] = []

    def work() -> None:
        results.append([_as_tuple(analyzer.chunk_terms(text, "Guide")) for text in EDGE_TEXTS * 20][: len(EDGE_TEXTS)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


def test_index_and_query_share_one_analyser_per_language() -> None:
    assert analyzer_for("english") is analyzer_for("english")
    with pytest.raises(UnknownLanguageError):
        Analyzer("klingon")


@pytest.mark.parametrize("corpus", ["handbook_18f", "kubernetes_community", "opentelemetry_docs"])
def test_every_text_of_the_shared_corpora_matches_the_reference(shared_dir: Path, corpus: str) -> None:
    """Each page whole, each of its paragraphs under the page's first line as context, each line as a question."""
    files = sorted((shared_dir / "data" / "corpora" / corpus / "files").rglob("*.md"))
    assert files, f"{corpus} has no pages under {shared_dir}"
    analyzer, reference = Analyzer("english"), ReferenceAnalyzer("english")
    compared = 0
    for path in files:
        body = path.read_text(encoding="utf-8", errors="replace")
        title = body.split("\n", 1)[0]
        for text in [body, *body.split("\n\n")]:
            assert _as_tuple(analyzer.chunk_terms(text, title)) == reference.chunk_terms(text, title), path
            compared += 1
        for line in body.splitlines():
            assert analyzer.question_terms(line) == reference.question_terms(line), path
    assert compared > len(files)


def test_the_typographic_marks_are_word_separators() -> None:
    """What lets ``words`` replace them by spaces: none is a letter or digit or changes when lowercased."""
    assert text_analysis._TYPOGRAPHIC_MARKS
    for mark in text_analysis._TYPOGRAPHIC_MARKS:
        assert not mark.isascii() and not mark.isalnum() and mark.lower() == mark
        assert words(f"a{mark}b {mark}C{mark}") == ["a", "b", "c"]
