"""Small frozen result types shared by the engine, the CLI and the bot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Article:
    """One parsed news article, before indexing.

    Attributes:
        source: where it came from, stable across runs ("folder/file.txt" or
            "feed.jsonl#id"); identifies the article for incremental reindexing.
        title: headline; "" only for files that had none (then the file name is used).
        text: the body, one paragraph a line (standfirst first when there is one);
            passage offsets point into this string.
        publisher, author, url: None when the file does not say.
        published_at: timezone-aware publication time, or None when unknown.
    """

    source: str
    title: str
    text: str
    publisher: str | None = None
    author: str | None = None
    url: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Citation:
    """What a reader needs to find the original: every field None when unknown."""

    title: str
    publisher: str | None
    author: str | None
    published_at: datetime | None
    url: str | None


@dataclass(frozen=True)
class PassageSpan:
    """A passage as character offsets into its article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class ScoredPassage:
    """A passage ranked for a question.

    Attributes:
        passage_id: key of the passage in the index.
        article_id: key of its article in the store.
        text: the article's exact text between ``start`` and ``end``.
        score: relevance; higher is better (comparable within one answer only).
        citation: where the passage comes from.
    """

    passage_id: int
    article_id: int
    text: str
    start: int
    end: int
    score: float
    citation: Citation


@dataclass(frozen=True)
class AnswerSentence:
    """The sentence that best answers the question, quoted verbatim from a passage.

    Attributes:
        text: the sentence, exactly as in the article.
        passage_index: index into :attr:`Answer.passages` of the passage holding it.
        highlight: (start, end) offsets inside ``text`` of the phrase that answers
            the question (a figure, date, name or place), or None when unclear.
    """

    text: str
    passage_index: int
    highlight: tuple[int, int] | None = None

    @property
    def highlighted_text(self) -> str | None:
        """The highlighted phrase itself, or None."""
        if self.highlight is None:
            return None
        start, end = self.highlight
        return self.text[start:end]


@dataclass(frozen=True)
class FigureReport:
    """One source's figure when the top sources disagree (newest first in an answer)."""

    figure: str
    passage_index: int
    citation: Citation


@dataclass(frozen=True)
class Answer:
    """The engine's answer to one question.

    Attributes:
        question: the question as asked.
        sentence: the best answering sentence, or None when nothing relevant was found.
        passages: ranked passages (when ``found`` is False, the closest ones, shown as such).
        found: False when confidence is below the calibrated threshold.
        conflicts: differing figures from the top sources, newest first; empty when they agree.
        confidence: the score the found / not-found decision was made on.
    """

    question: str
    sentence: AnswerSentence | None
    passages: tuple[ScoredPassage, ...]
    found: bool = True
    conflicts: tuple[FigureReport, ...] = field(default_factory=tuple)
    confidence: float = 0.0


@dataclass(frozen=True)
class SkippedFile:
    """An input that was not indexed, and why."""

    source: str
    reason: str


@dataclass
class IndexSummary:
    """What one indexing run did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class IndexStats:
    """What is indexed now."""

    articles: int
    passages: int
    model: str
    dimension: int
    index_kind: str
    built_at: datetime | None
