"""Check the news question set against the articles it was written from.

Usage::

    .venv/bin/python bench/check_questions.py [QUESTIONS_FILE ...]

The files default to the two halves of the news set, ``bench/news.tuning.questions.jsonl``
and ``bench/news.test.questions.jsonl``. Each line is
``{"id", "question", "answers", "article_id", "kind"}`` plus an optional ``asked_at``
(an ISO date the question was asked on). The checks:

* ids are unique and every line has the five fields with the right types;
* no article is asked about in more than one file (the halves are split by article);
* ``kind`` is one of count, date, who, where, other, unanswerable;
* an ``unanswerable`` question has ``"answers": []`` and ``"article_id": null``,
  every other question has at least one answer and an article;
* every answer appears in its article, compared the way the benchmark compares
  (case-insensitive, after folding runs of white space to one space).
  Sample articles (``samples/articles/<article_id>.txt``) are read as whole
  files; Reuters articles (``reuters-<n>``) are looked up by id in
  ``../shared/eval/reuters21578.articles.jsonl`` (never copied into the repo).

One exception is allowed and always reported: a question about an event covered
by several sample articles (two reports of the same flood with different death
tolls) may list an answer that appears in another sample article rather than
the named one, as long as at least one of its answers is in the named article.

Prints the number of questions per kind and exits with status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO / "samples" / "articles"
EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
REUTERS_FILE = EVAL_DIR / "reuters21578.articles.jsonl"
DEFAULT_QUESTIONS = [
    REPO / "bench" / "news.tuning.questions.jsonl",
    REPO / "bench" / "news.test.questions.jsonl",
]

KINDS = ("count", "date", "who", "where", "other", "unanswerable")
FIELDS = ("id", "question", "answers", "article_id", "kind")
OPTIONAL_FIELDS = ("asked_at",)

_WS = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case ``text`` and fold every run of white space to one space."""
    return _WS.sub(" ", text).strip().lower()


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read a JSON Lines question file, skipping blank lines."""
    questions: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{line_no}: invalid JSON: {exc}") from exc
            if not isinstance(item, dict):
                raise SystemExit(f"{path}:{line_no}: expected a JSON object")
            questions.append(item)
    return questions


def load_samples(directory: Path) -> dict[str, str]:
    """Map each sample article id (file name without ``.txt``) to its folded text."""
    return {p.stem: fold(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.txt"))}


def load_reuters(path: Path, wanted: set[str]) -> dict[str, str]:
    """Map each wanted Reuters id to its folded body text (the title is not searched)."""
    found: dict[str, str] = {}
    if not wanted:
        return found
    with path.open(encoding="utf-8") as f:
        for line in f:
            article = json.loads(line)
            if article["id"] in wanted:
                found[article["id"]] = fold(article["text"])
    return found


def check_shape(item: dict[str, Any]) -> list[str]:
    """Return the format problems of one question (empty when it is well formed)."""
    problems: list[str] = []
    missing = [name for name in FIELDS if name not in item]
    if missing:
        return [f"missing fields {missing}"]
    extra = sorted(set(item) - set(FIELDS) - set(OPTIONAL_FIELDS))
    if extra:
        problems.append(f"unexpected fields {extra}")
    if "asked_at" in item:
        try:
            date.fromisoformat(str(item["asked_at"]))
        except ValueError:
            problems.append(f"asked_at {item['asked_at']!r} is not an ISO date")
    if not isinstance(item["question"], str) or not item["question"].strip():
        problems.append("question must be a non-empty string")
    answers = item["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        problems.append("answers must be a list of non-empty strings")
        return problems
    kind = item["kind"]
    if kind not in KINDS:
        problems.append(f"unknown kind {kind!r}")
    elif kind == "unanswerable":
        if answers or item["article_id"] is not None:
            problems.append("unanswerable questions need answers [] and article_id null")
    else:
        if not answers:
            problems.append("answerable question without answers")
        if not isinstance(item["article_id"], str) or not item["article_id"]:
            problems.append("answerable question without article_id")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run every check, print a summary and return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", type=Path, default=DEFAULT_QUESTIONS)
    args = parser.parse_args(argv)

    files = {path: load_questions(path) for path in args.questions}
    questions = [item for items in files.values() for item in items]
    samples = load_samples(SAMPLES_DIR)
    failures: list[str] = []
    notes: list[str] = []

    owner: dict[str, Path] = {}
    for path, items in files.items():
        for item in items:
            article = item.get("article_id")
            if article is None:
                continue
            if owner.setdefault(str(article), path) != path:
                failures.append(f"{item.get('id')}: article {article} is in two files")

    ids = Counter(str(item.get("id")) for item in questions)
    failures += [f"{qid}: duplicate id" for qid, n in ids.items() if n > 1]

    well_formed: list[dict[str, Any]] = []
    for item in questions:
        problems = check_shape(item)
        failures += [f"{item.get('id')}: {p}" for p in problems]
        if not problems:
            well_formed.append(item)

    reuters_ids = {
        q["article_id"] for q in well_formed if str(q["article_id"]).startswith("reuters-")
    }
    if reuters_ids and not REUTERS_FILE.exists():
        failures.append(f"Reuters articles not found at {REUTERS_FILE}")
        reuters: dict[str, str] = {}
    else:
        reuters = load_reuters(REUTERS_FILE, reuters_ids)

    checked_answers = 0
    for item in well_formed:
        article_id = item["article_id"]
        if article_id is None:
            continue
        is_sample = not article_id.startswith("reuters-")
        text = samples.get(article_id) if is_sample else reuters.get(article_id)
        if text is None:
            failures.append(f"{item['id']}: article {article_id!r} not found")
            continue
        in_named = [a for a in item["answers"] if fold(a) in text]
        for answer in item["answers"]:
            checked_answers += 1
            if answer in in_named:
                continue
            elsewhere = [
                sid for sid, other in samples.items() if sid != article_id and fold(answer) in other
            ]
            if is_sample and in_named and elsewhere:
                notes.append(f"{item['id']}: {answer!r} is in {', '.join(elsewhere)}")
            else:
                failures.append(f"{item['id']}: {answer!r} not in {article_id}")

    kinds = Counter(str(item.get("kind")) for item in questions)
    sources = Counter(
        "unanswerable"
        if item.get("article_id") is None
        else "reuters"
        if str(item["article_id"]).startswith("reuters-")
        else "samples"
        for item in questions
    )
    names = ", ".join(path.name for path in files)
    print(f"{len(questions)} questions in {names}, {checked_answers} answers checked")
    order = [k for k in KINDS if kinds[k]] + sorted(k for k in kinds if k not in KINDS)
    print("per kind:   " + ", ".join(f"{k} {kinds[k]}" for k in order))
    print("per source: " + ", ".join(f"{k} {n}" for k, n in sorted(sources.items())))
    print(f"sample articles: {len(samples)}, Reuters articles used: {len(reuters)}")
    for note in notes:
        print(f"note: answer from another report of the same event: {note}")
    for failure in failures:
        print(f"FAIL {failure}")
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
