"""What the terminal prints of a feed refresh."""

from __future__ import annotations

from retrieval.feeds.refresh import FetchFailure, RefreshReport
from tools.render_text import refresh_lines


def test_a_failed_feed_is_named_without_its_password() -> None:
    """A feed URL with credentials fails: the line names the feed and page, never the secret."""
    feed = "https://reader:s3cret@news.example/feed.xml"
    report = RefreshReport(failed=[FetchFailure(feed, "https://news.example/a", "HTTP 404")])
    failed = refresh_lines(report)[1]
    assert failed == "failed https://news.example/a (feed https://news.example/feed.xml): HTTP 404"
