"""``citebot feeds`` and ``citebot index --url`` against a real HTTP server on 127.0.0.1
(real model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.feed_server import feed_server_thread
from tests.retrieval.test_feed_refresh import FERRY, LANES, RSS_TYPE, page, rss
from tools.cli import app

pytestmark = pytest.mark.model


def invoke(environment: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=environment)
    return result.exit_code, result.stdout, result.stderr


def test_feeds_from_the_terminal(tmp_path: Path) -> None:
    """add indexes the feed at once, list shows it, refresh finds nothing new, remove stops
    following it, and --collection keeps it out of the shared collection (in ask, stats,
    index and feeds alike)."""
    environment = {
        "CITEBOT_COLLECTION": str(tmp_path / "articles"),
        "CITEBOT_DATA_DIR": str(tmp_path / "data"),
        "CITEBOT_FETCH_ALLOW_PRIVATE": "true",
    }
    (tmp_path / "articles").mkdir()
    with feed_server_thread() as server:
        server.route("/feed.xml", rss(server, FERRY), content_type=RSS_TYPE)
        server.route(FERRY.path, page(FERRY))
        server.route(LANES.path, page(LANES))
        feed = server.url("/feed.xml")
        named = ("--collection", "server-7")
        code, out, err = invoke(environment, *named, "feeds", "add", feed)
        assert code == 0, err
        assert f"added: {FERRY.title}" in out
        code, out, _ = invoke(environment, *named, "ask", "How many cracked piles were found?")
        assert code == 0 and FERRY.title in out
        code, out, _ = invoke(environment, *named, "stats")
        assert code == 0 and "articles   1\n" in out
        code, out, _ = invoke(environment, *named, "index")
        assert code == 0 and "unchanged 1" in out
        code, _, err = invoke(environment, "stats")
        assert code == 1 and "nothing is indexed yet" in err
        code, out, _ = invoke(environment, *named, "feeds", "list")
        assert f"{feed} (Harbour Gazette): 1 stories" in out and "ok" in out
        code, out, _ = invoke(environment, *named, "feeds", "refresh")
        assert "added 0, updated 0, failed 0" in out
        assert (code, *invoke(environment, "feeds", "list")[1:2]) == (0, "no feeds followed\n")
        code, out, _ = invoke(environment, *named, "feeds", "remove", feed)
        assert code == 0 and "stories stay indexed" in out
        code, _, err = invoke(environment, *named, "feeds", "remove", feed)
        assert code == 1 and "is not followed" in err
        code, out, err = invoke(environment, "index", "--url", server.url(LANES.path))
        assert code == 0, err
        assert f"added: {LANES.title}" in out and "new 1" in out
        code, out, _ = invoke(environment, "ask", "How much do the cycle lanes cost?")
        assert LANES.title in out and FERRY.title not in out
        code, _, err = invoke(environment, "index", "--url", "file:///etc/passwd")
        assert code == 1 and "only http and https" in err
