"""Training examples for the reader: (question, passage, answer spans), from public data.

* **SQuAD** (the dev half in ../shared, CC BY-SA 4.0), training part only: each article
  is split into passages exactly as the engine splits articles (same tokenizer, same
  size), each question paired with the passages holding an answer (positives, every
  occurrence of an answer string marked) and with the passages of its own article that
  BM25 ranks highest but that hold no answer (hard negatives: "no answer here").
* **Reuters cloze** (Reuters-21578, free for research use): a sentence holding a figure,
  a date or a name becomes a question with that phrase replaced by a question word
  ("Shares rose how much on Monday?"); the phrase is the answer. The same question
  paired with a passage of another article about the same topic is a negative.
  Articles that the news question set asks about are never used.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answer.ranking import lexical_query, reciprocal_rank_fusion
from retrieval.index.lexical import LexicalIndex
from retrieval.index.vectors import VectorIndex
from retrieval.ingest.passages import split_passages
from retrieval.models.embedder import Embedder, TokenCounter
from retrieval.models.reader import ReaderPassage
from retrieval.text.sentences import sentence_spans

PASSAGE_TOKENS = 128
"""As the engine's default ``passage_tokens``: the reader trains on what it will read."""
POSITIVES = 2
HARD_NEGATIVES = 2
"""Passages with an answer (two when there are: passages overlap by a sentence) and
without one read with each SQuAD question."""
CANDIDATES = 30
"""Passages each retriever gives before fusion, as in the engine."""


@dataclass(frozen=True)
class Example:
    """One reader training example; no answers means "no answer in this passage"."""

    question: str
    passage: ReaderPassage
    answers: tuple[tuple[int, int], ...]
    origin: str


@dataclass(frozen=True)
class Question:
    """A question with its answer strings and the article it was written from."""

    id: str
    text: str
    answers: tuple[str, ...]
    article_id: str


def article_passages(title: str, text: str, counter: TokenCounter) -> list[ReaderPassage]:
    """The article cut into passages the way the engine cuts it."""
    spans = split_passages(title, text, counter.count, PASSAGE_TOKENS)
    return [ReaderPassage(title, text[span.start : span.end]) for span in spans]


def occurrences(passage: str, answers: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """Every (start, end) where an answer string occurs, case-insensitively."""
    lowered = passage.lower()
    found: set[tuple[int, int]] = set()
    for answer in answers:
        needle = answer.strip().lower()
        if not needle:
            continue
        for match in re.finditer(re.escape(needle), lowered):
            found.add((match.start(), match.end()))
    return tuple(sorted(found))


class PassageRetriever:
    """The engine's kind of retrieval over a fixed set of passages: BM25 and the sentence
    encoder, fused by reciprocal rank (to validate on what the engine would read)."""

    def __init__(self, passages: dict[str, list[ReaderPassage]], embedder: Embedder) -> None:
        self.pool = [(article, p) for article, items in passages.items() for p in items]
        texts = [f"{p.title}\n{p.text}" for _, p in self.pool]
        ids = np.arange(len(self.pool), dtype=np.int64)
        self._embedder = embedder
        self._lexical = LexicalIndex.build(ids, texts)
        self._dense = VectorIndex.build(ids, embedder.embed(texts))

    def ranked(self, questions: Sequence[str]) -> list[list[int]]:
        """For each question, pool indexes best first."""
        vectors = self._embedder.embed(list(questions))
        rankings = []
        for question, vector in zip(questions, vectors, strict=True):
            _, by_words = self._lexical.search(lexical_query(question), CANDIDATES)
            _, by_meaning = self._dense.search(vector[np.newaxis, :], CANDIDATES)
            fused = reciprocal_rank_fusion([by_meaning[0].tolist(), by_words.tolist()])
            rankings.append([int(i) for i in fused])
        return rankings


def squad_examples(
    questions: Sequence[Question],
    passages: dict[str, list[ReaderPassage]],
    rng: random.Random,
    *,
    hard_negatives: int = HARD_NEGATIVES,
) -> list[Example]:
    """Positives and same-article hard negatives for each question (see the module doc)."""
    indexes = {
        article: LexicalIndex.build(
            np.arange(len(items), dtype=np.int64), [f"{p.title}\n{p.text}" for p in items]
        )
        for article, items in passages.items()
    }
    examples: list[Example] = []
    for question in questions:
        items = passages[question.article_id]
        gold = {i: occurrences(p.text, question.answers) for i, p in enumerate(items)}
        gold = {i: spans for i, spans in gold.items() if spans}
        if not gold:
            continue  # the answer is cut by a passage boundary
        for index in rng.sample(sorted(gold), min(POSITIVES, len(gold))):
            examples.append(Example(question.text, items[index], gold[index], "squad"))
        _, ranked = indexes[question.article_id].search(question.text, len(items))
        wrong = [int(i) for i in ranked if int(i) not in gold][:hard_negatives]
        for index in wrong:
            examples.append(Example(question.text, items[index], (), "squad"))
    return examples


_NUMBER = re.compile(
    r"(?<![\w.$/-])(?:[$£]\s?)?\d+(?:,\d{3})*(?:\.\d+)?"
    r"(?:\s(?:mln|billion|bln|thousand|million|pct|percent|dlrs|dollars|tonnes|yen|marks|"
    r"francs|stg|barrels|shares|bushels|bags|pounds|ounces|cts|points|acres))*"
    r"(?![\w.,/-]?\d)(?![\w/-])"
)
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_DATE = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:,\s+\d{{4}})?\b|\b{_MONTH}\s+\d{{4}}\b|\b(?:19|20)\d\d\b(?!/)"
)
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][\w&.-]*)+")
_MONEY_OR_SHARE = re.compile(r"[$£]|dlrs|dollars|yen|marks|francs|stg|pct|percent|pounds|cts")
_LEADING_SAID = re.compile(r"^(?:[\w<>.&'-]+\s+){1,5}said(?:\s+that)?\s+")
_TRAILING_SAID = re.compile(r",\s*(?:[\w<>.&'-]+\s+){0,5}said\W*$")
_TABLE_WORDS = re.compile(r"\b(?:vs|shr|qtr|mths|avg|revs|oper)\b", re.I)


def cloze_question(sentence: str, answer: tuple[int, int], rng: random.Random) -> str:
    """The sentence as a question: the answer phrase replaced in place by a question word,
    the reporting clause ("the company said") dropped, and a few words left out so that
    the question is not a copy of the sentence."""
    phrase = sentence[answer[0] : answer[1]]
    if _DATE.fullmatch(phrase):
        word = "when"
    elif _NUMBER.fullmatch(phrase):
        word = "how much" if _MONEY_OR_SHARE.search(phrase) else "how many"
    else:
        word = rng.choice(["who", "what", "which"])
    marker = "\x00"
    text = f"{sentence[: answer[0]]}{marker}{sentence[answer[1] :]}"
    for pattern in (_LEADING_SAID, _TRAILING_SAID):
        shorter = pattern.sub("", text)
        if marker in shorter and len(shorter.split()) >= 4:
            text = shorter
    words = text.rstrip(" .;:").split()
    kept = [w for w in words if marker in w or rng.random() > 0.1]
    question = " ".join(kept).replace(marker, word)
    return question[0].upper() + question[1:] + "?"


def cloze_candidates(sentence: str) -> list[tuple[int, int]]:
    """Phrases of a prose sentence that can be asked about: figures, dates and names."""
    words = sentence.split()
    prose = sum(w.isalpha() for w in words) >= 0.7 * len(words)
    if not prose or _TABLE_WORDS.search(sentence):
        return []
    spans = [m.span() for pattern in (_NUMBER, _DATE, _NAME) for m in pattern.finditer(sentence)]
    trimmed = {(a, a + len(sentence[a:b].rstrip(".,;:"))) for a, b in spans}
    return sorted((a, b) for a, b in trimmed if 2 <= b - a <= 60)


def cloze_examples(
    articles: Sequence[dict[str, object]],
    counter: TokenCounter,
    rng: random.Random,
    *,
    per_article: int = 1,
    negative_share: float = 0.3,
) -> list[Example]:
    """Cloze questions from news articles, with some negatives from other articles."""
    examples: list[Example] = []
    pool: list[ReaderPassage] = []
    for article in articles:
        title, text = str(article["title"]), str(article["text"])
        passages = article_passages(title, text, counter)
        pool.extend(passages)
        made = 0
        for passage in rng.sample(passages, len(passages)):
            if made == per_article:
                break
            sentences = [
                (a, b)
                for a, b in sentence_spans(passage.text)
                if 8 <= len(passage.text[a:b].split()) <= 45
            ]
            rng.shuffle(sentences)
            for start, end in sentences:
                sentence = passage.text[start:end]
                candidates = cloze_candidates(sentence)
                if not candidates:
                    continue
                answer = rng.choice(candidates)
                phrase = sentence[answer[0] : answer[1]]
                spans = occurrences(passage.text, [phrase])
                if len(spans) != 1:
                    continue  # a phrase said twice makes an ambiguous answer
                question = cloze_question(sentence, answer, rng)
                examples.append(Example(question, passage, spans, "cloze"))
                made += 1
                break
    return examples + _close_negatives(examples, pool, rng, negative_share)


def _close_negatives(
    examples: list[Example], pool: list[ReaderPassage], rng: random.Random, share: float
) -> list[Example]:
    """For a share of the questions, the passage of another article that BM25 ranks best
    for it and that does not hold the answer."""
    if not pool or not examples:
        return []
    index = LexicalIndex.build(
        np.arange(len(pool), dtype=np.int64), [f"{p.title}\n{p.text}" for p in pool]
    )
    negatives: list[Example] = []
    for example in rng.sample(examples, int(share * len(examples))):
        answer = example.passage.text[slice(*example.answers[0])]
        _, ranked = index.search(example.question, 10)
        for row in ranked:
            other = pool[int(row)]
            if other.title != example.passage.title and not occurrences(other.text, [answer]):
                negatives.append(Example(example.question, other, (), "cloze"))
                break
    return negatives
