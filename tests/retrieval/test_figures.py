"""Reading the number a figure phrase states, to tell agreeing sources from disagreeing ones."""

from __future__ import annotations

import pytest

from retrieval.text.figures import figure_value


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("At least 12 people", 12),
        ("rose to 31", 31),
        ("£40 million", 40e6),
        ("2.5 mln stg", 2.5e6),
        ("2,300 properties", 2300),
        ("Two hundred and fifty", 250),
        ("Five people", 5),
        ("dozens", None),
    ],
)
def test_figure_value(phrase: str, value: float | None) -> None:
    """Digits, scales and number words are read; a vague "dozens" states no number."""
    assert figure_value(phrase) == value
