"""``citebot eval``: the metrics are computed right, and the command runs end to end."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.settings import Settings
from retrieval.types import Answer, AnswerSentence, Citation, ScoredPassage
from tests.conftest import SAMPLES
from tests.fakes import HashingEmbedder
from tools.evaluation import (
    EvalQuestion,
    calibration,
    evaluate,
    fold,
    load_questions,
    outcome,
    summarize,
    token_f1,
)

CITATION = Citation("A title", "A paper", None, datetime(2024, 3, 5, tzinfo=UTC), None)


def _answer(
    texts: list[str],
    found: bool = True,
    highlight: str | None = None,
    sure: float = 0.9,
    confidence: float = 0.5,
) -> Answer:
    passages = tuple(
        ScoredPassage(n, n, text, 0, len(text), 1.0 - n / 10, CITATION)
        for n, text in enumerate(texts)
    )
    sentence = None
    if found and highlight is not None:
        start = texts[0].index(highlight)
        sentence = AnswerSentence(texts[0], 0, (start, start + len(highlight)), sure)
    return Answer("q", sentence, passages, found=found, confidence=confidence)


def _question(answers: tuple[str, ...]) -> EvalQuestion:
    return EvalQuestion("id", "q", answers)


def test_fold_ignores_case_and_white_space() -> None:
    """Answers are compared case-insensitively with runs of white space folded."""
    assert fold("  At least\n12   People ") == "at least 12 people"


def test_answer_only_at_rank_two() -> None:
    """An answer found only in the second passage: hit@1 0, hit@3 1, hit@5 1, MRR 0.5."""
    answer = _answer(["nothing here", "The toll ROSE TO  31 on Thursday", "other"])
    result = summarize([outcome(_question(("rose to 31",)), answer, 10.0)])
    assert (result.hit_at_1, result.hit_at_3, result.hit_at_5, result.mrr) == (0.0, 1.0, 1.0, 0.5)


def test_ranks_and_highlight_over_several_questions() -> None:
    """hit@k and MRR average over answerable questions; bolds are judged on what they hold."""
    outcomes = [
        outcome(_question(("87 people",)), _answer(["pulled 87 people"], highlight="87 people"), 1),
        outcome(_question(("May 9",)), _answer(["a", "b", "c", "sworn in on May 9"]), 2),
        outcome(_question(("Kleve",)), _answer(["in Kleve"], highlight="in"), 3),
        outcome(_question(("absent",)), _answer(["a", "b", "c", "d", "e"]), 4),
        outcome(_question(()), _answer(["x y"], highlight="x"), 5),  # a bold with no answer
    ]
    result = summarize(outcomes)
    assert result.hit_at_1 == 0.5
    assert result.hit_at_3 == 0.5
    assert result.hit_at_5 == 0.75
    assert result.mrr == round((1 + 0.25 + 1) / 4, 4)
    assert result.highlight_precision == round(1 / 3, 4)  # one bold of three holds an answer
    assert result.highlight_recall == 0.25  # one answerable question of four
    assert result.highlight_f1 == round(1 / 3, 4)  # F1 1, 0 and 0
    assert (result.p50_ms, result.p95_ms) == (3.0, 4.8)


def test_token_f1_follows_squad() -> None:
    """Punctuation, case and articles are ignored; partial overlap scores between 0 and 1."""
    assert token_f1("The Denver Broncos.", "denver broncos") == 1.0
    assert token_f1("Denver", "Denver Broncos") == pytest.approx(2 / 3)
    assert token_f1("Carolina", "Denver Broncos") == 0.0


def test_calibration_picks_the_lowest_bold_threshold_reaching_the_target() -> None:
    """Bolds of confidence 0.3 are wrong, of 0.7 right: the threshold lands between."""
    right = [
        outcome(_question(("12",)), _answer(["12 dead"], highlight="12", sure=0.7), 1)
        for _ in range(9)
    ]
    wrong = [
        outcome(_question(("12",)), _answer(["12 dead"], highlight="dead", sure=0.3), 1)
        for _ in range(9)
    ]
    unanswerable = [
        outcome(_question(()), _answer(["x"], highlight="x", sure=0.2, confidence=0.2), 1)
        for _ in range(3)
    ]
    found = calibration({"news": right + wrong + unanswerable})
    assert 0.3 < found["bold_threshold"] <= 0.7
    assert 0.2 < found["found_threshold"] <= 0.5
    figures = found["figures_at_thresholds"]["news"]
    assert figures["highlight_precision"] == 1.0 and figures["abstain_precision"] == 1.0


def test_questions_keep_their_date_and_split_by_article(tmp_path: Path) -> None:
    """asked_at is read as a UTC date; --split keeps whole articles on one side."""
    lines = [
        {"id": str(n), "question": "q", "answers": ["a"], "article_id": f"art-{n % 8}"}
        for n in range(40)
    ]
    lines[0]["asked_at"] = "1987-03-02"
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    every = load_questions(path)
    train, validation = load_questions(path, "train"), load_questions(path, "validation")
    assert every[0].asked_at == datetime(1987, 3, 2, tzinfo=UTC)
    assert len(train) + len(validation) == 40 and validation
    assert not {q.article_id for q in train} & {q.article_id for q in validation}


def test_abstention_precision_and_recall() -> None:
    """Precision: abstentions that were right; recall: unanswerable questions abstained on."""
    outcomes = [
        outcome(_question(()), _answer(["x"], found=False), 1),  # right to abstain
        outcome(_question(()), _answer(["x"]), 1),  # answered what it could not
        outcome(_question(("y",)), _answer(["y"], found=False), 1),  # abstained wrongly
        outcome(_question(("y",)), _answer(["y"]), 1),
    ]
    result = summarize(outcomes)
    assert (result.abstain_precision, result.abstain_recall) == (0.5, 0.5)
    assert result.hit_at_1 == 1.0  # ranks count whether or not the answer was "found"


def test_undefined_figures_are_none() -> None:
    """With no unanswerable questions and no abstentions, abstention figures are undefined."""
    result = summarize([outcome(_question(("y",)), _answer(["y"]), 1)])
    assert (result.abstain_precision, result.abstain_recall) == (None, None)


async def test_eval_indexes_articles_into_a_throwaway_folder(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Articles are indexed into a temporary data folder, every question is asked, and the
    configured data folder is left untouched."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in ("008_halvorsen-comet-discovery", "016_sorrel-hills-wildfire"):
        (articles / f"{name}.txt").symlink_to(SAMPLES / f"{name}.txt")
    questions = tmp_path / "questions.jsonl"
    lines = [
        {
            "id": "1",
            "question": "Near which village did the wildfire start?",
            "answers": ["Brackenby"],
            "article_id": "016",
        },
        {
            "id": "2",
            "question": "Who discovered the comet from her back garden?",
            "answers": ["Ruth Halvorsen"],
            "article_id": "008",
        },
        {
            "id": "3",
            "question": "Who won the 2022 FIFA World Cup final?",
            "answers": [],
            "article_id": None,
        },
    ]
    questions.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")

    loaded = load_questions(questions)
    outcomes = await evaluate(settings, loaded, [articles], "hybrid", embedder=HashingEmbedder())
    result = summarize(outcomes)

    assert result.questions == 3 and result.answerable == 2
    assert result.hit_at_5 == 1.0
    assert result.hit_at_1 is not None and result.mrr is not None
    assert result.p95_ms >= result.p50_ms > 0
    assert set(result.to_json()) == {
        "hit@1",
        "hit@3",
        "hit@5",
        "mrr",
        "highlight_precision",
        "highlight_recall",
        "highlight_f1",
        "abstain_precision",
        "abstain_recall",
        "p50_ms",
        "p95_ms",
        "questions",
        "answerable",
        "bolds",
    }
    assert not settings.data_dir.exists()
    assert any((tmp_path / "tmp" / "citebot-eval").iterdir())


async def test_eval_rejects_an_unknown_mode(settings: Settings) -> None:
    """A mode other than dense, bm25 or hybrid is a settings error, before any work."""
    from retrieval.errors import SettingsError

    with pytest.raises(SettingsError, match="--mode"):
        await evaluate(settings, [], [], "fuzzy")


def test_the_command_line_checks_the_mode(tmp_path: Path) -> None:
    """``citebot eval --mode fuzzy`` is refused by the command line, naming the choices."""
    from typer.testing import CliRunner

    from tools.cli import app

    questions = tmp_path / "q.jsonl"
    questions.write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(questions), "--mode", "fuzzy"])
    assert result.exit_code == 2
    assert "hybrid" in result.output and "fuzzy" in result.output
