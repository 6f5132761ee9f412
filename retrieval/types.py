"""Small frozen result types shared by the engine, the CLI and the bot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Mode = Literal["hybrid", "dense", "bm25"]
"""Retrieval: meaning (FAISS) and words (BM25) fused, or one of them alone."""
EncoderKind = Literal["onnx-int8", "sentence-transformers"]
"""The encoder: quantized ONNX Runtime (fast), or plain fp32 sentence-transformers."""


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
        summary_only: the text is a feed's summary of the story, not the story (its page
            could not be fetched); citations say so.
    """

    source: str
    title: str
    text: str
    publisher: str | None = None
    author: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    summary_only: bool = False


@dataclass(frozen=True)
class Citation:
    """What a reader needs to find the original: every field None when unknown."""

    title: str
    publisher: str | None
    author: str | None
    published_at: datetime | None
    url: str | None
    summary_only: bool = False
    """Quoted from a feed's summary of the story, not from the story itself."""

    @property
    def published_day(self) -> str | None:
        """'2 Nov 2019', or None when the date is unknown."""
        when = self.published_at
        return None if when is None else f"{when.day} {when.strftime('%b %Y')}"

    @property
    def details(self) -> list[str]:
        """['publisher', 'author', '2 Nov 2019', 'feed summary'], leaving out what is unknown."""
        parts = [self.publisher, self.author, self.published_day]
        if self.summary_only:
            parts.append("feed summary")
        return [part for part in parts if part]


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
        collection: the collection it was found in (ids are per collection).
    """

    passage_id: int
    article_id: int
    text: str
    start: int
    end: int
    score: float
    citation: Citation
    collection: str = "shared"


@dataclass(frozen=True)
class AnswerSentence:
    """The sentence that best answers the question, quoted verbatim from a passage.

    Attributes:
        text: the sentence, exactly as in the article.
        passage_index: index into :attr:`Answer.passages` of the passage holding it.
        highlight: (start, end) offsets inside ``text`` of the phrase that answers
            the question, or None when the reader is not sure enough of any.
        highlight_confidence: the reader's confidence in its best phrase of this sentence
            (bolded or not), 0 to 1; None when the reader did not read the passage.
    """

    text: str
    passage_index: int
    highlight: tuple[int, int] | None = None
    highlight_confidence: float | None = None

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
class Evidence:
    """What the found / not-found decision was made on, each 0 to 1.

    Attributes:
        reader: the reader's best (relevance x answer probability) over the passages it
            read; None when the reader is off.
        retrieval: the best retrieved passage's similarity and term coverage.
    """

    reader: float | None
    retrieval: float


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
        evidence: what that score combines.
    """

    question: str
    sentence: AnswerSentence | None
    passages: tuple[ScoredPassage, ...]
    found: bool = True
    conflicts: tuple[FigureReport, ...] = field(default_factory=tuple)
    confidence: float = 0.0
    evidence: Evidence | None = None


@dataclass(frozen=True)
class SkippedFile:
    """An input that was not indexed, and why."""

    source: str
    reason: str


SKIPPED_LISTED = 20
"""Skipped inputs named in a report; the rest are only counted, so that a file of a
million broken lines neither fills memory nor floods the report."""


@dataclass
class IndexSummary:
    """What one indexing run did.

    Attributes:
        skipped: the first skipped inputs with their reasons (at most ``SKIPPED_LISTED``
            when the indexer made the summary).
        skipped_more: how many more inputs were skipped than ``skipped`` lists.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0
    skipped_more: int = 0

    @property
    def skipped_total(self) -> int:
        """Every input skipped, listed or not."""
        return len(self.skipped) + self.skipped_more


@dataclass(frozen=True)
class IndexStats:
    """What is indexed now."""

    articles: int
    passages: int
    model: str
    dimension: int
    index_kind: str
    built_at: datetime | None


@dataclass
class IngestReport:
    """What happened to uploaded files: saved (by their new names), rejected, then indexed."""

    saved: list[str] = field(default_factory=list)
    rejected: list[SkippedFile] = field(default_factory=list)
    summary: IndexSummary | None = None
