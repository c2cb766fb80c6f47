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
# an ASCII character -> itself lowercased if it is a letter or a digit, else a space (what ``_WORD`` keeps of ASCII)
_ASCII_WORD_CHARS = str.maketrans({chr(c): chr(c).lower() if chr(c).isalnum() else " " for c in range(128)})
# the non-ASCII characters most common in wiki text, none of them a letter or digit: replaced by spaces, a text whose
# other characters are ASCII takes the ASCII shortcut of ``words``
_TYPOGRAPHIC_MARKS = "\u2019\u201c\u201d\u2014\u2013\u2026\u2018\u2022\u2192\u00a0\u00b7"
MAX_TERM_CHARS = 60  # longer "words" are hashes, base64 or minified code: noise in the term statistics
# A word of a chunk's context (page title and heading path) counts this many times: the field boost of the title.
CONTEXT_WEIGHT = 2
UNSTEMMED = "simple"
# words remembered per analyser (per language, per process): the 102,179 distinct words of benchmark 1's 100,000
# texts take 17 MB; 200,000 ASCII words of the longest length (MAX_TERM_CHARS) 51 MB
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


class _Stems(dict[str, str]):
    """Word -> term, filled on first sight: the Snowball stem, or "" for a stop word or an over-long word.

    A handful of words make up most of any text, so a word is stemmed once and then only looked up. At most
    ``MAX_CACHED_STEMS`` words are kept; the next new word clears the map (refilled by the words that follow).
    """

    def __init__(self, language: str, stop_words: frozenset[str]) -> None:
        super().__init__()
        self.language = language
        self.stop_words = stop_words
        self._local = threading.local()  # a Stemmer object is not thread-safe: one per thread

    def __missing__(self, word: str) -> str:
        if len(word) > MAX_TERM_CHARS or word in self.stop_words:
            term = ""
        elif self.language == UNSTEMMED:
            term = word
        else:
            stemmer = getattr(self._local, "stemmer", None)
            if stemmer is None:
                stemmer = self._local.stemmer = Stemmer.Stemmer(self.language, 0)
            term = stemmer.stemWord(word)
        if len(self) >= MAX_CACHED_STEMS:
            self.clear()
        self[word] = term
        return term


class _FreqTexts(dict[int, str]):
    """A frequency's stored text, capped at ``MAX_FREQ`` (remembered up to it: the same small numbers recur)."""

    def __missing__(self, freq: int) -> str:
        text = str(min(freq, MAX_FREQ))
        if freq <= MAX_FREQ:
            self[freq] = text
        return text


_FREQ_TEXTS = _FreqTexts()


def words(text: str) -> list[str]:
    """The lowercased runs of letters and digits of a text, in order.

    An ASCII text (most chunks) takes a shortcut with the same result: one translation table lowercases letters and
    turns every other character into a space, and ``str.split`` cuts the words; typographic quotes, dashes and the
    like (``_TYPOGRAPHIC_MARKS``, never part of a word) become spaces first; any other text goes through ``_WORD``.
    """
    if not text.isascii():
        for mark in _TYPOGRAPHIC_MARKS:  # a text whose only non-ASCII characters are these takes the shortcut too
            if mark in text:
                text = text.replace(mark, " ")
        if not text.isascii():
            return _WORD.findall(text.lower())
    return text.translate(_ASCII_WORD_CHARS).split()


class Analyzer:
    """Words -> stop words out -> Snowball stems, for one language. Safe to share between threads."""

    def __init__(self, language: str) -> None:
        if language not in languages():
            raise UnknownLanguageError(
                f"text_search_config {language!r} has no analyser; expected one of {', '.join(languages())}"
            )
        self.language = language
        self.stop_words = ENGLISH_STOP_WORDS if language == "english" else frozenset()
        self._terms = _Stems(language, self.stop_words)

    def _term_counts(self, text: str) -> Counter[str]:
        """Each term of the text with its count (stop words and over-long words counted under "", not removed)."""
        return Counter(map(self._terms.__getitem__, words(text)))

    def question_terms(self, question: str) -> list[str]:
        """The distinct terms of a question, in order of first appearance."""
        return [term for term in dict.fromkeys(map(self._terms.__getitem__, words(question))) if term]

    def chunk_terms(self, text: str, context: str) -> ChunkTerms:
        """Terms of a chunk: its text, and its context (title, headings) counted ``CONTEXT_WEIGHT`` times."""
        counts = self._term_counts(text)
        counts.update(map(self._terms.__getitem__, words(context) * CONTEXT_WEIGHT))
        counts.pop("", None)
        ordered = sorted(counts)
        freqs = list(map(counts.__getitem__, ordered))
        return ChunkTerms(
            terms=" ".join(ordered), freqs=" ".join(map(_FREQ_TEXTS.__getitem__, freqs)), length=sum(freqs)
        )


@cache
def analyzer_for(text_search_config: str) -> Analyzer:
    """The shared analyser of a ``rag.text_search_config``; ``UnknownLanguageError`` for one it cannot stem."""
    return Analyzer(text_search_config)
