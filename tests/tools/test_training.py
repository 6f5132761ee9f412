"""Reader training: examples are built from real text, and a few steps lower the loss."""

from __future__ import annotations

import random

import pytest

from retrieval.models.embedder import TokenCounter, packaged_model_path
from retrieval.models.reader import PairEncoder, ReaderPassage
from retrieval.models.reader_network import ReaderNetwork
from tools.training.examples import Example, cloze_candidates, cloze_question, occurrences
from tools.training.train import TrainConfig, batches, mean_loss, run_phase, tensorize

PASSAGE = ReaderPassage(
    "At least 12 dead as River Astel floods Carrow Bridge",
    "At least 12 people were killed when the River Astel burst its banks on Monday night. "
    "Fire crews rescued 87 people from homes and cars, said Dana Okafor, the chief fire officer.",
)
QUESTIONS = [
    ("How many people were killed in the Carrow Bridge floods?", "12 people"),
    ("How many people did fire crews rescue?", "87 people"),
    ("Who is the chief fire officer?", "Dana Okafor"),
    ("When did the River Astel burst its banks?", "Monday night"),
]


def test_answers_are_marked_at_every_occurrence() -> None:
    """Every occurrence of an answer string becomes a span, case-insensitively."""
    assert occurrences("Rain, rain and RAIN", ["rain"]) == ((0, 4), (6, 10), (15, 19))


def test_a_cloze_question_asks_for_the_blanked_phrase() -> None:
    """A figure in a sentence becomes "how many" in its place, and is the answer."""
    sentence = "The company said it will cut 1,200 jobs at its Leeds plant."
    spans = cloze_candidates(sentence)
    figure = next(span for span in spans if sentence[slice(*span)] == "1,200")
    question = cloze_question(sentence, figure, random.Random(1))
    assert "how many" in question and "1,200" not in question and question.endswith("?")


@pytest.mark.model
def test_a_few_training_steps_lower_the_loss() -> None:
    """Trained for a few steps on four questions, the reader's loss on them falls."""
    model = packaged_model_path()
    encoder = PairEncoder(model)
    examples = [
        Example(question, PASSAGE, occurrences(PASSAGE.text, [answer]), "test")
        for question, answer in QUESTIONS
    ]
    items = [tensorize(encoder, example) for example in examples]
    assert all(item.relevant for item in items)
    network = ReaderNetwork.from_encoder(model)
    before = mean_loss(network, items)
    config = TrainConfig(batch_size=4, body_lr=1e-4, head_lr=3e-3, warmup=0.1)
    rng = random.Random(0)
    epochs = [batches(items, 4, rng) for _ in range(12)]
    run_phase(network, "test", epochs, config, lambda *_: None)
    after = mean_loss(network, items)
    assert after < 0.5 * before
    assert TokenCounter(model).count(PASSAGE.text) < 128  # the passage fits the reader
