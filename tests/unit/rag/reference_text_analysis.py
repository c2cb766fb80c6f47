"""The text analyser as it was before its fast path (tenantrag 4b6c456), kept as the reference the current one must
match word for word: per text a regex over the lowercased text, a ``Counter`` of words, stop words and over-long
words deleted, the distinct words stemmed, stems summed (the context's counted ``CONTEXT_WEIGHT`` times).
"""

from __future__ import annotations

import re
from collections import Counter

import Stemmer

from tenant_rag.text_analysis import CONTEXT_WEIGHT, ENGLISH_STOP_WORDS, MAX_FREQ, MAX_TERM_CHARS, UNSTEMMED

_WORD = re.compile(r"[^\W_]+")


class ReferenceAnalyzer:
    def __init__(self, language: str) -> None:
        self.language = language
        self.stop_words = ENGLISH_STOP_WORDS if language == "english" else frozenset()
        self.stemmer = None if language == UNSTEMMED else Stemmer.Stemmer(language)

    def _stems(self, words: list[str]) -> list[str]:
        return words if self.stemmer is None else self.stemmer.stemWords(words)

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
        return list(dict.fromkeys(self._stems(list(self._word_counts(question)))))

    def chunk_terms(self, text: str, context: str) -> tuple[str, str, int]:
        counts = self._term_counts(text)
        counts.update(self._term_counts(context, CONTEXT_WEIGHT))
        ordered = sorted(counts)
        return (
            " ".join(ordered),
            " ".join([str(min(counts[t], MAX_FREQ)) for t in ordered]),
            sum(counts.values()),
        )
