"""The answering phrase inside a sentence, the answer kind, and what a question counts."""

from __future__ import annotations

import pytest

from retrieval.highlight import highlight
from retrieval.questions import AnswerKind, answer_kind, asked_noun, counted_noun

SEED_SENTENCE = (
    "At least 53 soldiers and one civilian died in the attack on an isolated military base "
    "in the north-east of the country, the government said."
)

HIGHLIGHTS = [
    # (question, sentence, expected phrase or None)
    (
        "How many soldiers were killed in the attack in Mali?",
        SEED_SENTENCE,
        "At least 53 soldiers and one civilian",
    ),
    (
        "How many people did fire crews rescue from homes and cars?",
        "Its crews had pulled 87 people from homes and cars overnight, using 14 boats borrowed "
        "from sailing clubs.",
        "87 people",
    ),
    (
        "How many Arctic terns did the researchers fit with geolocators?",
        "The team, led by Dr Amira Castell, fitted 42 terns with tiny geolocators weighing "
        "0.6 grams each.",
        "42 terns",
    ),
    (
        "How many Arctic terns did the researchers track?",
        "Arctic terns fly more than 70,000 kilometres on their yearly round trip.",
        None,
    ),
    (
        "How many seats did the Progress Party win?",
        "The party took 27 of the assembly's 61 seats, four fewer than in 2019.",
        "27 of the assembly's 61 seats",
    ),
    (
        "How many dead in the Astel valley floods?",
        "Kestrel's depot was damaged in the Astel valley floods, and repairs would cost about "
        "£4 million.",
        None,
    ),
    (
        "How many drivers voted in favour of the strike?",
        "Of the 212 drivers balloted, 187 voted in favour of the walkout, the union said.",
        "187",
    ),
    (
        "What is the Green List demanding in return for a coalition deal?",
        "The Green List has said it will demand a ban on new building on flood plains and "
        "£150 million for home insulation as its price for any deal.",
        "a ban on new building on flood plains and £150 million for home insulation",
    ),
    (
        "What caused the computer failure at the hospital?",
        "The inquiry found that the computer failure at the hospital was caused by a software "
        "update that had not been properly tested.",
        "a software update that had not been properly tested",
    ),
    (
        "How many people were killed in the Astel valley floods?",
        "The death toll from the floods in the Astel valley rose to 31 on Thursday.",
        "31",
    ),
    (
        "How much will the government spend rebuilding the valley?",
        "The government will spend £40 million rebuilding homes, roads and flood defences.",
        "£40 million",
    ),
    (
        "What pre-tax profit did Brightwater Foods report?",
        "Pre-tax profit for the year to December 31 rose to £96.3 million from £81.6 million.",
        "£96.3 million",
    ),
    (
        "What was the turnout in the mayoral election?",
        "Turnout was 38.6 per cent, up from 33.1 per cent at the last election in 2020.",
        "38.6 per cent",
    ),
    (
        "How much debt did New Zealand agree to write off?",
        "New Zealand agreed to write off 1.03 billion N.Z. Dlrs of debt incurred on behalf of "
        "farmers.",
        "1.03 billion N.Z. Dlrs",
    ),
    (
        "How much crude oil will Venezuela lend Ecuador?",
        "Venezuela will lend Ecuador 50,000 barrels per day of crude oil.",
        "50,000 barrels per day",
    ),
    (
        "How many spectators watched the final?",
        "Jonas Ibsen headed the winner in the 88th minute in front of 27,450 spectators.",
        "27,450 spectators",
    ),
    (
        "What was the turnout in the election?",
        "Siddiqui, 44, is a former headteacher and the first woman to be elected mayor.",
        None,
    ),
    (
        "When did the software update begin?",
        "At 1.40am on Tuesday, January 16, an engineer began installing an update.",
        "Tuesday, January 16",
    ),
    (
        "When will the plant be closed for inventory adjustment?",
        "The plant in Arlington, Texas, will be closed March 16 to 30 for inventory adjustment.",
        "March 16 to 30",
    ),
    (
        "What is the expected average sowing date for the crop?",
        "The average sowing date is expected to be around April 11, against April 23 last year.",
        "around April 11",
    ),
    (
        "When will Comet Halvorsen make its closest approach to the Sun?",
        "It will pass closest to the Sun on February 3, 2025.",
        "February 3, 2025",
    ),
    (
        "Who is the chief fire officer for Astel County?",
        "“We have never seen the river come up this fast,” said Dana Okafor, the chief fire "
        "officer for Astel County.",
        "Dana Okafor",
    ),
    (
        "Who is the chairman of Kestrel Rail?",
        "Kestrel's chairman, Sir Malcolm Greaves, said the board would recommend the offer.",
        "Sir Malcolm Greaves",
    ),
    (
        "Who won the 2024 Eastfield mayoral election?",
        "Farah Siddiqui of the Civic Alliance has been elected mayor of Eastfield, ending George "
        "Pennock's eight years in charge of the city.",
        "Farah Siddiqui",
    ),
    (
        "Which New Zealand agriculture minister announced the write-off of meat price "
        "stabilisation debt together with Roger Douglas?",
        "Douglas and Agriculture Minister Colin Moyle said in a joint statement the agreement "
        "concludes one of the major refinancing arrangements.",
        "Agriculture Minister Colin Moyle",
    ),
    (
        "Which New Zealand agriculture minister announced the write-off of meat price "
        "stabilisation debt together with Roger Douglas?",
        "New Zealand agreed to write off debt incurred under the Meat Price Stabilisation "
        "Scheme, Finance Minister Roger Douglas said.",
        None,
    ),
    (
        "Who did BancTexas Group elect as its new chairman?",
        "BancTEXAS Group Inc said its board elected Nathan C. Collins chairman of the board.",
        "Nathan C. Collins",
    ),
    (
        "Which company is the largest sugar processor in the Netherlands?",
        "A spokesman for Suiker Unie, the largest sugar processor in the Netherlands, said so.",
        "Suiker Unie",
    ),
    (
        "In which West German town will Fuji set up a subsidiary?",
        "Fuji Photo Film Co Ltd will set up a wholly-owned subsidiary in Kleve, West Germany.",
        "Kleve",
    ),
    (
        "Near which village did the wildfire start?",
        "The fire started at about 1.30pm on heathland near the village of Brackenby.",
        "Brackenby",
    ),
    (
        "In which district were most of the flood victims found?",
        "Most of the dead were found in the low-lying Millbrook district, where rows of houses "
        "back onto the river.",
        "Millbrook",
    ),
    (
        "Where is the Zincor plant?",
        "Fighting broke out at a hostel at the Zincor plant, some 40 kms east of Johannesburg.",
        "40 kms east of Johannesburg",
    ),
    (
        "Where does the tram line start?",
        "Line 1 runs for 11.4 kilometres from Harbour Square to the University of Westhaven.",
        "Harbour Square",
    ),
]


@pytest.mark.parametrize(("question", "sentence", "expected"), HIGHLIGHTS)
def test_highlight_marks_the_answering_phrase(
    question: str, sentence: str, expected: str | None
) -> None:
    """The highlight is exactly the phrase that answers, found by offsets only."""
    span = highlight(sentence, question, answer_kind(question))
    found = sentence[span[0] : span[1]] if span else None
    assert found == expected


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many people died?", AnswerKind.COUNT),
        ("What was the turnout in the 2024 election?", AnswerKind.COUNT),
        ("What pre-tax profit did Brightwater Foods report for 2023?", AnswerKind.COUNT),
        ("How long is the cable?", AnswerKind.COUNT),
        ("When will the mayor be sworn in?", AnswerKind.DATE),
        ("What is the expected average sowing date for the crop?", AnswerKind.DATE),
        ("On what date will Macao become a special administrative region?", AnswerKind.DATE),
        ("Where does the tram line start?", AnswerKind.WHERE),
        ("In which district were the victims found?", AnswerKind.WHERE),
        ("Which lagoon in Ghana dried up?", AnswerKind.WHERE),
        ("Who is the chairman of Kestrel Rail?", AnswerKind.WHO),
        ("Which New Zealand agriculture minister announced the write-off?", AnswerKind.WHO),
        ("What caused the computer failure?", AnswerKind.OTHER),
    ],
)
def test_answer_kind(question: str, kind: AnswerKind) -> None:
    """The question's wording decides the kind of phrase looked for."""
    assert answer_kind(question) is kind


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("How many Arctic terns did the researchers fit?", "tern"),
        ("How many gold miners died in the fire?", "miner"),
        ("How many bags of cocoa arrived?", "bag"),
        ("How much did the line cost?", None),
    ],
)
def test_counted_noun(question: str, noun: str | None) -> None:
    """A "how many" question's counted noun, stemmed; the verb after it is not taken."""
    assert counted_noun(question) == noun


def test_asked_noun() -> None:
    """The noun an answer should sit next to is found for counts, places and people."""
    assert asked_noun("What was the turnout?", AnswerKind.COUNT) == "turnout"
    assert asked_noun("Near which village did it start?", AnswerKind.WHERE) == "villag"
    assert asked_noun("Who is the chairman of Kestrel?", AnswerKind.WHO) == "chairman"
