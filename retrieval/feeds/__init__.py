"""Articles from the web: feeds polled and the pages they link to fetched, politely and safely.

:mod:`retrieval.feeds.fetcher` is the one HTTP client (robots.txt, per-host limits, retries,
size and address rules); :mod:`retrieval.feeds.feed` turns feeds and pages into articles.
"""
