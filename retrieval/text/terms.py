"""Words as the engine compares them: lower-cased, stop words out, English-stemmed.

This is bm25s's own scheme (its stop words, PyStemmer's English stemmer), made faster
with a cache, and used by BM25 and by every word comparison in answering. PyStemmer's
stemmer objects must not be called from two threads at once, and questions are answered
in worker threads, so each thread has its own.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
_local = threading.local()


def terms(text: str) -> list[str]:
    """The text's words, lower-cased, stop words removed, English-stemmed."""
    return list(_stem(tuple(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS)))


def tokenize(texts: list[str]) -> list[list[str]]:
    """:func:`terms` of each text."""
    return [terms(text) for text in texts]


@lru_cache(maxsize=4096)
def _stem(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_stemmer().stemWords(words))


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer."""
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer
