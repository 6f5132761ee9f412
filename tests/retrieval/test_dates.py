"""Time expressions in questions become publication-date windows, relative to a fixed today."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from retrieval.text.dates import time_window

NOW = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("question", "start", "end", "grace_days"),
    [
        ("What happened last week?", date(2024, 3, 4), date(2024, 3, 11), 7),
        ("Who won the title in 2019?", date(2019, 1, 1), date(2020, 1, 1), 92),
        ("What has the council done since October?", date(2023, 10, 1), date(2024, 3, 15), 0),
        ("How many died in March 2024?", date(2024, 3, 1), date(2024, 4, 1), 31),
        ("What happened in March?", date(2024, 3, 1), date(2024, 4, 1), 31),
        ("What happened in November?", date(2023, 11, 1), date(2023, 12, 1), 31),
        ("What did the mayor say yesterday?", date(2024, 3, 13), date(2024, 3, 14), 1),
        ("What happened in the past 3 days?", date(2024, 3, 11), date(2024, 3, 15), 0),
        ("What happened on 5 March 2024?", date(2024, 3, 5), date(2024, 3, 6), 3),
        ("What happened since 2020?", date(2020, 1, 1), date(2024, 3, 15), 0),
        ("What happened last month?", date(2024, 2, 1), date(2024, 3, 1), 7),
        ("What did the council decide this week?", date(2024, 3, 11), date(2024, 3, 15), 0),
        ("Who was recently appointed chairman?", date(2024, 2, 12), date(2024, 3, 15), 0),
        ("What did the minister announce today?", date(2024, 3, 14), date(2024, 3, 15), 0),
    ],
)
def test_time_window(question: str, start: date, end: date, grace_days: int) -> None:
    """Absolute and relative expressions give the window of publication dates they mean."""
    window = time_window(question, NOW)
    assert window is not None
    assert (window.start.date(), window.end.date(), window.grace.days) == (start, end, grace_days)


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2024 Eastfield mayoral election?",
        "When will the mayor be sworn in on May 9?",
        "How large is the crop area expected this year?",
        "What pre-tax profit did Brightwater Foods report for 2023?",
    ],
)
def test_no_time_window(question: str) -> None:
    """A year used as a name, a date that is the answer, or "this year" filter nothing."""
    assert time_window(question, NOW) is None


def test_window_admits_late_reports_and_undated_articles() -> None:
    """A year's report published early the next year still counts; undated articles always do."""
    window = time_window("How many containers did the port handle in 2024?", NOW)
    assert window is not None
    assert window.admits(datetime(2025, 1, 15, tzinfo=UTC))
    assert not window.admits(datetime(2023, 12, 31, tzinfo=UTC))
    assert not window.admits(datetime(2025, 6, 1, tzinfo=UTC))
    assert window.admits(None)


@pytest.mark.parametrize(
    ("question", "relative"),
    [
        ("Why did exports fall in May?", True),
        ("How many shares were sold since March 5?", True),
        ("What happened in September?", True),
        ("What happened last week?", True),
        ("What happened in May 1987?", False),
        ("How many died in 2012?", False),
        ("What was the rate on 5 March 2024?", False),
    ],
)
def test_a_time_without_its_year_is_relative(question: str, relative: bool) -> None:
    """Only a window named with its year is answered "not found" when nothing indexed is
    from it; "in May" of an archive means a May of its own years."""
    window = time_window(question, NOW)
    assert window is not None and window.relative is relative
