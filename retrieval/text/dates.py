"""Time expressions in questions ("in 2019", "last week", "since October") as date windows.

A question that names a time is answered from articles *published* in that window
(their :attr:`~retrieval.types.Citation.published_at`), allowing reports that came out
a little after it (a year's figures are often published the next January). Relative
expressions are relative to when the question was asked, passed in by the caller (the
message's time on Discord, ``--as-of`` or a question file's ``asked_at`` in the
terminal, else now), so tests can fix it. When no indexed article falls in the window,
the engine answers from every date, newest first, rather than refusing (an archive's
"in May" is a May of its own years); a window named with its year ("in 2012") that
holds no article is answered "not found".

Recognised (case-insensitive):

* ``in|during|throughout 2019``, ``in March 2024``, ``in March`` (the latest March
  not after today), ``on 5 March 2024`` / ``on March 5, 2024``;
* ``since 2019``, ``since October`` (the latest October not after today),
  ``since March 2024``, ``since March 6`` (the latest such day not after today);
* ``today``, ``yesterday``, ``this week`` (Monday to the day asked), ``last week``
  (the calendar week, Monday to Sunday, before this one), ``last month``, ``last
  year``, ``in the past|last 3 days|weeks|months|years``;
* ``recently``, ``lately``: the 31 days up to the day asked.

"This month / year" is deliberately not a filter: questions use it to repeat an
article's own framing ("the crop area expected this year"). Articles with no
publication date are never filtered out (nothing says they are outside the window).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)"
RECENT_DAYS = 31
"""What "recently" covers, in days up to the day asked."""
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("day", rf"\bon\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+{_YEAR}\b"),
        ("day", rf"\bon\s+{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b"),
        (
            "since_day",
            rf"\bsince\s+{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?\b",
        ),
        (
            "since_day",
            rf"\bsince\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+{_YEAR})?\b",
        ),
        (
            "since_month",
            rf"\bsince\s+(?:(?:early|mid|late)[\s-]+)?{_MONTH}(?:\s+(?:of\s+)?{_YEAR})?\b(?!\s*\d)",
        ),
        ("since_year", rf"\bsince\s+{_YEAR}\b"),
        (
            "month",
            rf"\b(?:in|during|throughout)\s+(?:(?:early|mid|late)[\s-]+)?{_MONTH}(?:\s+(?:of\s+)?{_YEAR})?\b(?!\s*\d)",
        ),
        ("year", rf"\b(?:in|during|throughout)\s+(?:(?:early|mid|late)[\s-]+)?{_YEAR}\b"),
        ("yesterday", r"\byesterday\b"),
        ("today", r"\btoday\b"),
        ("this_week", r"\bthis\s+week\b"),
        ("recently", r"\b(?:recent(?:ly)?|lately)\b"),
        (
            "past_units",
            r"\b(?:in\s+)?the\s+(?:past|last)\s+(?P<count>\d+|a|one|two|three|four|five|six|ten)?\s*"
            r"(?P<unit>day|week|month|year)s?\b",
        ),
        ("last_unit", r"\blast\s+(?P<unit>week|month|year)\b"),
    )
)


_RELATIVE = frozenset({"yesterday", "today", "this_week", "recently", "last_unit", "past_units"})


@dataclass(frozen=True)
class TimeWindow:
    """The publication dates a question's time expression allows.

    Attributes:
        start: first instant allowed (UTC).
        end: first instant after the window (UTC).
        grace: reports published up to this long after ``end`` still count.
        phrase: the words of the question that named the time.
        relative: named relative to when it was asked ("this week", "recently", "in May"
            with no year): when no article is from it, the newest are answered from
            instead ("in 2012" with no article from 2012 is not found).
    """

    start: datetime
    end: datetime
    grace: timedelta
    phrase: str
    relative: bool = False

    def admits(self, published_at: datetime | None) -> bool:
        """True when an article published then may answer; undated articles always may."""
        if published_at is None:
            return True
        when = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
        return self.start <= when < self.end + self.grace


def time_window(question: str, now: datetime) -> TimeWindow | None:
    """The window the question's first time expression names, or None when it names none.

    Args:
        question: the question as asked.
        now: the current time; relative expressions ("last week") count from its date.
    """
    today = now.date()
    for name, pattern in _PATTERNS:
        match = pattern.search(question)
        if match is None:
            continue
        window = _window(name, match, today)
        if window is not None:
            start, end, grace = window
            # "in May", "since March 5": the latest such month or day, so relative too
            relative = name in _RELATIVE or not match.groupdict().get("year")
            return TimeWindow(_at(start), _at(end), grace, match.group(0), relative)
    return None


def _window(name: str, match: re.Match[str], today: date) -> tuple[date, date, timedelta] | None:
    groups = match.groupdict()
    year = int(groups["year"]) if groups.get("year") else None
    month = _MONTHS[groups["month"].lower()] if groups.get("month") else None
    tomorrow = today + timedelta(days=1)
    if name == "day" and year and month:
        try:
            day = date(year, month, int(groups["day"]))
        except ValueError:
            return None
        return day, day + timedelta(days=1), timedelta(days=3)
    if name == "since_day" and month:
        try:
            day = date(year or today.year, month, int(groups["day"]))
            if year is None and day > today:
                day = date(today.year - 1, month, day.day)
        except ValueError:
            return None
        return day, max(tomorrow, day), timedelta(0)
    if name in {"month", "since_month"} and month:
        first = _month_start(year, month, today)
        if name == "since_month":
            return first, max(tomorrow, first), timedelta(0)
        return first, _next_month(first), timedelta(days=31)
    if name == "since_year" and year:
        return date(year, 1, 1), max(tomorrow, date(year, 1, 1)), timedelta(0)
    if name == "year" and year:
        return date(year, 1, 1), date(year + 1, 1, 1), timedelta(days=92)
    if name == "yesterday":
        return today - timedelta(days=1), today, timedelta(days=1)
    if name == "today":
        return today, tomorrow, timedelta(0)
    if name == "this_week":
        return today - timedelta(days=today.weekday()), tomorrow, timedelta(0)
    if name == "recently":
        return today - timedelta(days=RECENT_DAYS), tomorrow, timedelta(0)
    if name == "last_unit":
        return _last_unit(groups["unit"].lower(), today)
    if name == "past_units":
        count = groups.get("count") or "1"
        number = int(count) if count.isdigit() else _NUMBERS[count.lower()]
        days = number * _UNITS[groups["unit"].lower()]
        return today - timedelta(days=days), tomorrow, timedelta(0)
    return None


def _last_unit(unit: str, today: date) -> tuple[date, date, timedelta]:
    if unit == "week":
        this_monday = today - timedelta(days=today.weekday())
        return this_monday - timedelta(days=7), this_monday, timedelta(days=7)
    if unit == "month":
        this_month = today.replace(day=1)
        previous = (this_month - timedelta(days=1)).replace(day=1)
        return previous, this_month, timedelta(days=7)
    return date(today.year - 1, 1, 1), date(today.year, 1, 1), timedelta(days=31)


def _month_start(year: int | None, month: int, today: date) -> date:
    """The first day of that month; without a year, the latest such month not after today."""
    if year is not None:
        return date(year, month, 1)
    return date(today.year if month <= today.month else today.year - 1, month, 1)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
