"""Passages fit the model, overlap by a sentence, and point at the article's exact text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from retrieval.ingest.collection import parse_file
from retrieval.ingest.passages import embedding_input, split_passages
from retrieval.models.embedder import TokenCounter, packaged_model_path
from retrieval.text.sentences import sentence_spans
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def tokens() -> TokenCounter:
    """The real model's tokenizer (no model weights are loaded)."""
    return TokenCounter(packaged_model_path())


@pytest.mark.parametrize("max_tokens", [48, 128, 256])
def test_every_passage_fits_with_its_title(tokens: TokenCounter, max_tokens: int) -> None:
    """Title plus passage never exceed the limit, counted with the model's tokenizer."""
    for path in sorted(SAMPLES.glob("*.txt")):
        [article], _ = parse_file(path, path.name)
        for span in split_passages(article.title, article.text, tokens.count, max_tokens):
            text = embedding_input(article.title, article.text[span.start : span.end])
            assert tokens.count(text) <= max_tokens, (path.name, span)


def test_passages_cover_every_sentence_in_order(tokens: TokenCounter) -> None:
    """No sentence is lost: each lies inside some passage, and passages move forward."""
    path = SAMPLES / "013_st-aldhelms-it-outage-inquiry.txt"
    [article], _ = parse_file(path, path.name)
    spans = split_passages(article.title, article.text, tokens.count, 64)
    assert all(a.start < b.start for a, b in itertools.pairwise(spans))
    for start, end in sentence_spans(article.text):
        assert any(s.start < end and start < s.end for s in spans)
    covered = " ".join(article.text[s.start : s.end] for s in spans)
    assert set(article.text.split()) <= set(covered.split())


def test_consecutive_passages_share_a_sentence(tokens: TokenCounter) -> None:
    """Consecutive passages overlap by about one sentence, so no answer falls in a gap."""
    path = SAMPLES / "002_astel-flood-death-toll-rises.txt"
    [article], _ = parse_file(path, path.name)
    spans = split_passages(article.title, article.text, tokens.count, 128)
    assert len(spans) > 2
    pairs = list(itertools.pairwise(spans))
    overlapping = [b.start < a.end for a, b in pairs]
    assert all(overlapping)
    assert all(b.end > a.end for a, b in pairs)  # no passage is inside the one before


def test_offsets_quote_the_exact_text(seed_file: Path, tokens: TokenCounter) -> None:
    """Passage offsets slice the article's own text: what is quoted is what was written."""
    [article], _ = parse_file(seed_file, "seed.txt")
    spans = split_passages(article.title, article.text, tokens.count, 128)
    first = article.text[spans[0].start : spans[0].end]
    assert first.startswith("At least 53 soldiers and one civilian dead")
    for span in spans:
        quote = article.text[span.start : span.end]
        assert quote == quote.strip()
        assert quote in article.text


def test_overlong_sentence_is_cut_at_words_not_dropped(tokens: TokenCounter) -> None:
    """A sentence longer than the limit is split at word boundaries; no word is lost."""
    text = "The " + " ".join(f"word{i}" for i in range(300)) + " ended."
    spans = split_passages("Title", text, tokens.count, 40)
    assert len(spans) > 3
    words: list[str] = []
    for span in spans:
        piece = text[span.start : span.end]
        assert tokens.count(embedding_input("Title", piece)) <= 40
        words.extend(piece.split())
    assert words == text.split()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Mr. Smith went to the U.S. Treasury. He left.",
            ["Mr. Smith went to the U.S. Treasury.", "He left."],
        ),
        ("He said: “It is done.” Then he left!", ["He said: “It is done.”", "Then he left!"]),
        ("Profit rose 5.5 pct. Sales fell.", ["Profit rose 5.5 pct.", "Sales fell."]),
        ("First paragraph\nSecond one.", ["First paragraph", "Second one."]),
        ("On Jan. 5 it rained. It stopped.", ["On Jan. 5 it rained.", "It stopped."]),
    ],
)
def test_sentence_boundaries(text: str, sentences: list[str]) -> None:
    """Sentences split at their ends, not at abbreviations, decimals or initials."""
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences
