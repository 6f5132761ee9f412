"""From retrieved passages to an answer: sources shown, dates, disagreeing figures, not found."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from retrieval.answer.compose import Candidate, Thresholds
from retrieval.answer.pipeline import AskPipeline
from retrieval.answer.ranking import Scored, newer_first_on_ties, reciprocal_rank_fusion
from retrieval.engine import Engine
from retrieval.ingest.collection import parse_file
from retrieval.models.reader import Reader
from retrieval.settings import Settings, load_settings
from retrieval.store.articles import PassageRecord
from retrieval.text.sentences import sentence_spans
from retrieval.types import Answer, Article, Citation
from tests.conftest import SAMPLES, copy_samples
from tests.fakes import HashingEmbedder, ScriptedReader

FLOOD_DAY_ONE = "001_astel-floods-carrow-bridge"  # "At least 12 people were killed", 5 Mar 2024
FLOOD_TOLL_RISES = "002_astel-flood-death-toll-rises"  # "rose to 31", 7 Mar 2024
COMET = "008_halvorsen-comet-discovery"
MARATHON = "011_eastfield-marathon-record"
TOLL_QUESTION = "How many people were killed in the Astel valley floods?"
MARCH_2024 = datetime(2024, 3, 14, tzinfo=UTC)
TOLLS = ScriptedReader({"At least 12 people": 0.99, "31": 0.99})
"""A reader that finds each flood report's toll."""


def _answer(
    question: str,
    candidates: list[Candidate],
    reader: Reader | None = TOLLS,
    *,
    now: datetime = MARCH_2024,
    top_k: int = 3,
    found: float = 0.0,
    bold: float = 0.5,
) -> Answer:
    """The pipeline's answer from already retrieved candidates."""
    pipeline = AskPipeline("hybrid", reader, 5, 2, Thresholds(found=found, bold=bold))
    retrieved = pipeline.rank(question, candidates, now)
    return pipeline.compose(question, retrieved, pipeline.read(question, retrieved), top_k)


def _article(name: str) -> Article:
    path = SAMPLES / f"{name}.txt"
    return parse_file(path, path.name)[0][0]


def _direction(seed: int, like: np.ndarray | None = None, closeness: float = 0.0) -> np.ndarray:
    """A unit vector; with ``like``, one whose cosine with it is about ``closeness``."""
    vector = np.random.default_rng(seed).normal(size=16)
    if like is not None:
        vector -= (vector @ like) * like  # orthogonal to ``like``
        vector = closeness * like + np.sqrt(1 - closeness**2) * vector / np.linalg.norm(vector)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _candidate(
    article: Article,
    article_id: int,
    passage: str,
    similarity: float,
    lexical: float,
    vector: np.ndarray,
    ordinal: int = 0,
) -> Candidate:
    """The passage of ``article`` that starts with ``passage``'s text, as a retrieved candidate."""
    start = article.text.index(passage)
    citation = Citation(
        article.title, article.publisher, article.author, article.published_at, None
    )
    record = PassageRecord(
        article_id * 100 + ordinal,
        article_id,
        ordinal,
        start,
        start + len(passage),
        article.text,
        citation,
        vector,
    )
    return Candidate(record, similarity, lexical)


def _flood_reports(same_story: bool = True) -> list[Candidate]:
    """The first passages of the two flood reports, scored as the real model scores them."""
    early, later = _article(FLOOD_DAY_ONE), _article(FLOOD_TOLL_RISES)
    early_lead = early.text[: early.text.index("Astel County Fire")]
    later_lead = later.text[: later.text.index("Six people remain")]
    first = _direction(1)
    second = _direction(2, first, 0.8 if same_story else 0.3)
    return [
        _candidate(early, 1, early_lead, 0.69, 1.0, first),
        _candidate(later, 2, later_lead, 0.70, 0.58, second),
    ]


def test_disagreeing_figures_are_listed_newest_first() -> None:
    """An early toll (12) and a later one (31): both figures with their sources, 31 first."""
    answer = _answer(TOLL_QUESTION, _flood_reports())
    assert answer.found
    assert "rose to 31" in answer.passages[0].text
    assert [(r.figure, r.passage_index) for r in answer.conflicts] == [
        ("31", 0),
        ("At least 12 people", 1),
    ]
    dates = [r.citation.published_at for r in answer.conflicts if r.citation.published_at]
    assert len(dates) == 2 and dates == sorted(dates, reverse=True)
    assert answer.sentence is not None and answer.sentence.highlighted_text == "31"
    assert "rose to 31" in answer.sentence.text


def test_a_figure_the_reader_would_not_bold_is_not_listed_as_a_source_s() -> None:
    """A source is listed as saying "31" only when the reader is as sure of it as of a
    phrase it would bold: unsure, there is no disagreement to report."""
    unsure = ScriptedReader({"At least 12 people": 0.99, "31": 0.6})
    answer = _answer(TOLL_QUESTION, _flood_reports(), unsure, bold=0.9)
    assert answer.conflicts == ()
    listed = _answer(TOLL_QUESTION, _flood_reports(), unsure, bold=0.5)
    assert [r.figure for r in listed.conflicts] == ["31", "At least 12 people"]


def test_newer_report_goes_first_only_when_it_tells_the_same_story() -> None:
    """About equal relevance puts the newer report first, but not when the stories differ."""
    same = _answer(TOLL_QUESTION, _flood_reports())
    different = _answer(TOLL_QUESTION, _flood_reports(same_story=False))
    assert same.passages[0].article_id == 2
    assert different.passages[0].article_id == 1


def test_agreeing_sources_are_not_a_conflict() -> None:
    """Two passages of one report give one figure: nothing is said about disagreement."""
    early = _article(FLOOD_DAY_ONE)
    lead = early.text[: early.text.index("Astel County Fire")]
    candidates = [_candidate(early, 1, lead, 0.7, 1.0, _direction(1))]
    answer = _answer(TOLL_QUESTION, candidates)
    assert answer.found and answer.conflicts == ()


@pytest.mark.parametrize(
    ("question", "now", "days"),
    [
        ("How many people were killed in the Astel floods in March 2024?", MARCH_2024, [5, 7]),
        ("How many people were killed in the Astel floods in 2012?", MARCH_2024, None),
        ("How many people were killed in the Astel floods last week?", MARCH_2024, [5, 7]),
        ("How many people were killed in the Astel floods since March 6?", MARCH_2024, [7]),
        ("How many people were killed in the Astel floods recently?", MARCH_2024, [5, 7]),
        ("How many people were killed in the Astel floods yesterday?", MARCH_2024, [7, 5]),
    ],
)
def test_time_in_the_question_filters_by_publication_date(
    question: str, now: datetime, days: list[int] | None
) -> None:
    """Reports published in the window answer; an absolute time nothing is from is "not
    found"; a relative one ("yesterday") with no report in it falls back to all dates,
    the newest first."""
    answer = _answer(question, _flood_reports(), now=now)
    if days is None:
        assert not answer.found
        assert answer.sentence is None and answer.conflicts == ()
        assert len(answer.passages) == 2  # the closest sources are still listed
        return
    assert answer.found
    shown = [p.citation.published_at.day for p in answer.passages if p.citation.published_at]
    if days == [7, 5]:
        assert shown == days
    else:
        assert sorted(shown) == days


def test_not_found_below_the_threshold_still_lists_closest_sources() -> None:
    """Below the found threshold: no sentence, the passages still listed as closest."""
    answer = _answer(TOLL_QUESTION, _flood_reports(), found=1.5)
    assert not answer.found
    assert answer.sentence is None
    assert len(answer.passages) == 2
    assert answer.confidence < 1.5


def test_a_phrase_is_bolded_only_when_the_reader_is_sure() -> None:
    """The same answer sentence, with its phrase bolded above the threshold only."""
    sure = _answer(TOLL_QUESTION, _flood_reports()[:1], bold=0.9)
    unsure = _answer(TOLL_QUESTION, _flood_reports()[:1], bold=0.99)
    assert sure.sentence is not None and unsure.sentence is not None
    assert sure.sentence.text == unsure.sentence.text
    assert sure.sentence.highlighted_text == "At least 12 people"
    assert unsure.sentence.highlight is None
    assert unsure.sentence.highlight_confidence is not None
    assert 0.9 <= unsure.sentence.highlight_confidence < 0.99


def test_found_is_decided_on_the_passages_read_whatever_is_shown() -> None:
    """Three passages shown or ten, the same verdict and confidence."""
    candidates = _one_article_passages([0.8, 0.79, 0.78, 0.77], other=0.7)
    few = _answer("What happened?", candidates, top_k=3, found=0.3)
    many = _answer("What happened?", candidates, top_k=10, found=0.3)
    assert (few.found, few.confidence) == (many.found, many.confidence)
    assert len(few.passages) == 3 and len(many.passages) == 5


def test_without_a_reader_the_sentence_holding_the_question_words_is_quoted() -> None:
    """The reader off: the sentence sharing most words, no bold, no figures compared."""
    answer = _answer(TOLL_QUESTION, _flood_reports(), reader=None)
    assert answer.sentence is not None and answer.sentence.highlight is None
    assert "death toll from the floods in the Astel valley" in answer.sentence.text
    assert answer.conflicts == ()


def test_boilerplate_is_never_the_answer() -> None:
    """A phrase the reader likes inside a boilerplate sentence is not quoted."""
    early = _article(FLOOD_DAY_ONE)
    lead = early.text[: early.text.index("Astel County Fire")]
    toll = next(s for s in sentence_spans(lead) if lead[s[0] : s[1]].startswith("At least 12"))
    candidate = _candidate(early, 1, lead, 0.7, 1.0, _direction(1))
    excluded = Candidate(candidate.record, 0.7, 1.0, (toll,))
    plain = _answer(TOLL_QUESTION, [candidate])
    hidden = _answer(TOLL_QUESTION, [excluded])
    assert plain.sentence is not None and plain.sentence.text == lead[toll[0] : toll[1]]
    assert hidden.sentence is not None and hidden.sentence.text != lead[toll[0] : toll[1]]
    assert hidden.sentence.highlight is None


def _one_article_passages(similarities: list[float], other: float) -> list[Candidate]:
    """Passages 1..n of the comet article, and one marathon passage with similarity ``other``."""
    comet, marathon = _article(COMET), _article(MARATHON)
    lines = [line for line in comet.text.splitlines() if line.strip()]
    candidates = [
        _candidate(comet, 1, line, similarity, 0.0, _direction(10 + n), ordinal=n + 1)
        for n, (line, similarity) in enumerate(zip(lines, similarities, strict=False))
    ]
    first_line = marathon.text.splitlines()[1]
    return [*candidates, _candidate(marathon, 2, first_line, other, 0.0, _direction(3), 1)]


def test_passages_per_article_are_limited_so_several_sources_appear() -> None:
    """A third passage of one article yields to an about-as-relevant passage of another."""
    answer = _answer(
        "What happened?", _one_article_passages([0.8, 0.79, 0.78, 0.77], other=0.7), reader=None
    )
    assert [p.article_id for p in answer.passages] == [1, 1, 2]


def test_a_much_weaker_source_does_not_displace_a_relevant_passage() -> None:
    """The limit is not filled with irrelevant sources: a far weaker one comes after."""
    answer = _answer(
        "What happened?",
        _one_article_passages([0.8, 0.79, 0.78, 0.77], other=0.2),
        reader=None,
        top_k=4,
    )
    assert [p.article_id for p in answer.passages] == [1, 1, 1, 1]


def test_fusion_and_tie_break() -> None:
    """RRF rewards agreement between rankings; equal scores of one story put the newer first."""
    fused = reciprocal_rank_fusion([[1, 2, 3], [2, 3, 1]])
    assert list(fused) == [2, 1, 3]
    old, new = datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC)
    order = newer_first_on_ties([Scored(1.0, old), Scored(0.9, new), Scored(0.2, new)])
    assert order == [1, 0, 2]


@pytest.mark.parametrize("mode", ["bm25", "dense"])
async def test_deleted_article_leaves_no_trace(
    mode: str, settings: Settings, collection: Path, embedder: HashingEmbedder
) -> None:
    """After deleting an article and reindexing, neither retriever alone returns any of it."""
    copy_samples(collection, [FLOOD_DAY_ONE, COMET, MARATHON])
    settings = settings.model_copy(update={"retrieval_mode": mode})
    question = "Who discovered the comet from her back garden in Fenwick?"
    async with await Engine.open(settings, embedder) as engine:
        await engine.reindex()
        before = await engine.ask(question, k=10)
        (collection / f"{COMET}.txt").unlink()
        await engine.reindex()
        after = await engine.ask(question, k=10)
    comet_title = "Retired teacher discovers comet from her back garden in Fenwick"
    assert comet_title in {p.citation.title for p in before.passages}
    assert comet_title not in {p.citation.title for p in after.passages}
    assert all("Halvorsen" not in p.text for p in after.passages)


@pytest.mark.model
@pytest.mark.xfail(
    strict=True,
    reason="the shipped reader does not read 'the death toll rose to 31' as a number "
    "killed, so the 31 report ranks second and gives no figure (bench/RESULTS.md)",
)
async def test_later_toll_first_over_the_samples(tmp_path: Path) -> None:
    """Over the samples the 31 report (7 Mar) comes before the 12 report (5 Mar), and both
    figures are listed, 31 first (real model)."""
    collection = tmp_path / "collection"
    collection.mkdir()
    copy_samples(collection)
    settings = load_settings(collection=collection, data_dir=tmp_path / "data")
    async with await Engine.open(settings) as engine:
        await engine.reindex()
        answer = await engine.ask(TOLL_QUESTION)
    titles = [p.citation.title for p in answer.passages]
    later = titles.index("Astel valley flood death toll rises to 31 as search widens")
    earlier = titles.index("At least 12 dead as River Astel floods Carrow Bridge")
    assert later < earlier
    figures = [report.figure for report in answer.conflicts]
    assert len(figures) == 2 and "31" in figures[0] and "12" in figures[1]
