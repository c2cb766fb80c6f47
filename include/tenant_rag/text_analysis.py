"""The one text analyser of the lexical index: the chunk stage runs it over every chunk, the query path over every
question, so both sides always agree on what a term is.

A text becomes words (runs of letters and digits, lowercased), stop words are left out (English only, the list
PostgreSQL's ``english`` configuration uses), and every word is stemmed with the Snowball stemmer of the customer's
``rag.text_search_config`` (``english`` by default; ``simple`` keeps the lowercased words as they are). Questions
are plain text: quotes, minus signs and any other punctuation only separate words.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache

import Stemmer

from tenant_rag.errors import TenantRagError

_WORD = re.compile(r"[^\W_]+")
MAX_TERM_CHARS = 60  # longer "words" are hashes, base64 or minified code: noise in the term statistics
# A word of a chunk's context (page title and heading path) counts this many times: the field boost of the title.
CONTEXT_WEIGHT = 2
UNSTEMMED = "simple"
MAX_CACHED_STEMS = 200_000
MAX_FREQ = 32767  # frequencies are stored as smallint

# PostgreSQL's english.stop (the Snowball English stop words)
_ENGLISH_STOP_TEXT = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself
it its itself they them their theirs themselves what which who whom this that these those am is are was were be
been being have has had having do does did doing a an the and but if or because as until while of at by for with
about against between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some such no nor
not only own same so than too very s t can will just don should now
"""
ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_TEXT.split())


class UnknownLanguageError(TenantRagError, ValueError):
    """``rag.text_search_config`` names no language the analyser can stem."""


def languages() -> tuple[str, ...]:
    """Every accepted ``text_search_config``: ``simple`` and the Snowball stemmers' languages."""
    return (UNSTEMMED, *sorted(set(Stemmer.algorithms()) - {"porter", "dutch_porter"}))


@dataclass(frozen=True)
class ChunkTerms:
    """The analysed text of a chunk: its distinct terms in code-point order, their frequencies, its length.

    ``terms`` is space-separated (a term never holds a space) and ``freqs`` the frequencies in the same order; the
    writer stores both as they are and the database splits them into arrays.
    """

    terms: str
    freqs: str
    length: int


class Analyzer:
    """Words -> stop words out -> Snowball stems, for one language. Safe to share between threads."""

    def __init__(self, language: str) -> None:
        if language not in languages():
            raise UnknownLanguageError(
                f"text_search_config {language!r} has no analyser; expected one of {', '.join(languages())}"
            )
        self.language = language
        self.stop_words = ENGLISH_STOP_WORDS if language == "english" else frozenset()
        self._local = threading.local()  # a Stemmer object is not thread-safe: one per thread
        self._cache: dict[str, str] = {}

    def _stems(self, words: list[str]) -> list[str]:
        """The stem of each word (through a shared cache: a handful of words make up most of any text)."""
        if self.language == UNSTEMMED:
            return words
        cache = self._cache
        missing = [w for w in words if w not in cache]
        if missing:
            stemmer = getattr(self._local, "stemmer", None)
            if stemmer is None:
                stemmer = self._local.stemmer = Stemmer.Stemmer(self.language, 0)
            if len(cache) > MAX_CACHED_STEMS:
                cache.clear()
            cache.update(zip(missing, stemmer.stemWords(missing), strict=True))
        return [cache[w] for w in words]

    def _word_counts(self, text: str) -> Counter[str]:
        counts = Counter(_WORD.findall(text.lower()))
        for word in [w for w in counts if len(w) > MAX_TERM_CHARS or w in self.stop_words]:
            del counts[word]
        return counts

    def _term_counts(self, text: str, weight: int = 1) -> Counter[str]:
        words = self._word_counts(text)
        terms: Counter[str] = Counter()
        for word, stem in zip(words, self._stems(list(words)), strict=True):
            terms[stem] += words[word] * weight
        return terms

    def question_terms(self, question: str) -> list[str]:
        """The distinct terms of a question, in order of first appearance."""
        return list(dict.fromkeys(self._stems(list(self._word_counts(question)))))

    def chunk_terms(self, text: str, context: str) -> ChunkTerms:
        """Terms of a chunk: its text, and its context (title, headings) counted ``CONTEXT_WEIGHT`` times."""
        counts = self._term_counts(text)
        counts.update(self._term_counts(context, CONTEXT_WEIGHT))
        ordered = sorted(counts)
        return ChunkTerms(
            terms=" ".join(ordered),
            freqs=" ".join([str(min(counts[t], MAX_FREQ)) for t in ordered]),
            length=sum(counts.values()),
        )


@cache
def analyzer_for(text_search_config: str) -> Analyzer:
    """The shared analyser of a ``rag.text_search_config``; ``UnknownLanguageError`` for one it cannot stem."""
    return Analyzer(text_search_config)
