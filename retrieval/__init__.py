"""citebot's retrieval engine: ingest news articles, index passages, answer with quotes.

A plain library: it never imports Discord and holds no global state. The CLI, the
bot and the tests all go through :class:`retrieval.engine.Engine`.
"""
