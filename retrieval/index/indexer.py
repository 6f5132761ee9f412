"""Incremental reindexing into a new index generation.

Compares what the collection holds now with what the served generation indexed:
unchanged articles keep their passages and vectors, changed ones are replaced,
removed ones vanish, duplicates (same URL or same text) are indexed once. The new
generation is written beside the old one; the caller publishes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from retrieval.errors import RemovalRefusedError
from retrieval.index.lexical import LexicalIndex
from retrieval.index.manifest import (
    LEXICAL_FOLDER,
    STORE_FILE,
    VECTORS_FILE,
    Manifest,
    check_compatible,
)
from retrieval.index.vectors import VectorIndex
from retrieval.ingest.collection import Collection, SkipReport, read_collection
from retrieval.ingest.passages import embedding_input, split_passages
from retrieval.models.embedder import Embedder
from retrieval.store.articles import Store, StoredArticle
from retrieval.text.boilerplate import article_keys
from retrieval.types import Article, IndexSummary, PassageSpan

log = logging.getLogger(__name__)

MAX_REMOVED_SHARE = 0.5
"""A reindex that would remove more than this share of the indexed articles is refused
unless allowed: an empty or unmounted collection folder must not empty the index."""

Progress = Callable[[str, int, int], None]
"""Called as progress(stage, done, total); may be called from a worker thread."""


@dataclass
class _Plan:
    to_add: list[Article]
    to_delete: list[StoredArticle]
    summary: IndexSummary


def content_hash(article: Article) -> str:
    """Hash of everything stored about an article: any change means re-indexing it."""
    fields = [
        article.title,
        article.text,
        article.publisher,
        article.author,
        article.url,
        article.published_at.isoformat() if article.published_at else None,
    ]
    if article.summary_only:  # only then, so the hashes of other articles stay as they were
        fields.append("summary only")
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def text_hash(text: str) -> str:
    """Hash of the text with case and white space folded: the same story twice matches."""
    # str.split() splits on exactly what \s matches; 3x faster than re.sub
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()


def normalize_url(url: str | None) -> str | None:
    """A URL with case, fragment and trailing slash folded, for duplicate detection."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )


def _plan(read: Collection, stored: dict[str, StoredArticle], rebuild: bool) -> _Plan:
    summary = IndexSummary()
    skipped = SkipReport()
    skipped.extend(read.skipped)
    # A file that failed to parse this time keeps what it had indexed: nothing is lost.
    failed_files = read.failed_files
    seen_urls: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    keep: set[str] = {
        source
        for source in stored
        if source in failed_files or source.split("#", 1)[0] in failed_files
    }
    to_add: list[Article] = []
    to_delete: list[StoredArticle] = []
    for article in read.articles:
        url, digest = normalize_url(article.url), text_hash(article.text)
        first = (url and seen_urls.get(url)) or seen_texts.get(digest)
        if first:
            skipped.add(article.source, f"duplicate of {first}")
            continue
        if url:
            seen_urls[url] = article.source
        seen_texts[digest] = article.source
        old = stored.get(article.source)
        keep.add(article.source)
        if old is not None and not rebuild and old.content_hash == content_hash(article):
            summary.unchanged += 1
            continue
        if old is not None:
            to_delete.append(old)
            summary.updated += 1
        else:
            summary.new += 1
        to_add.append(article)
    removed = [old for source, old in stored.items() if source not in keep]
    summary.removed = len(removed)
    summary.skipped, summary.skipped_more = skipped.listed, skipped.more
    return _Plan(to_add, to_delete + removed, summary)


async def reindex(
    collection: Path,
    served: Path | None,
    new_generation: Callable[[], Path],
    embedder: Embedder,
    passage_tokens: int,
    *,
    rebuild: bool = False,
    allow_removal: bool = False,
    progress: Progress | None = None,
) -> tuple[IndexSummary, Path | None]:
    """Bring the index up to date with ``collection``.

    CPU work (parsing, hashing, splitting, embedding, FAISS, BM25) runs in worker
    threads, so an asyncio caller's event loop stays free.

    Args:
        collection: folder or file of articles.
        served: the generation being served now, or None.
        new_generation: makes an empty generation folder when there is work to do.
        embedder: the model that embeds new passages.
        passage_tokens: the passage size limit in model tokens.
        rebuild: re-embed everything, ignoring the served generation.
        allow_removal: go ahead even when more than half the indexed articles would go.
        progress: called with (stage, done, total).

    Returns:
        The summary, and the new generation folder (None when nothing changed).

    Raises:
        ArticleError: the collection path does not exist.
        IndexMismatchError: the served index was built with another model (without rebuild).
        RemovalRefusedError: more than half the indexed articles would be removed.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    report("reading", 0, 1)
    read = await asyncio.to_thread(read_collection, collection)
    report("reading", 1, 1)
    manifest = Manifest.read(served) if served is not None else None
    if manifest is not None and not rebuild:
        check_compatible(manifest, embedder)
        rebuild = manifest.passage_tokens != passage_tokens
        if rebuild:
            log.info("passage size changed: re-embedding every article")
    stored: dict[str, StoredArticle] = {}
    old_store = await Store.open(served / STORE_FILE) if served is not None else None
    try:
        if old_store is not None:
            stored = await old_store.stored_articles()
        plan = await asyncio.to_thread(_plan, read, stored, rebuild)
        summary = plan.summary
        if not allow_removal and summary.removed > MAX_REMOVED_SHARE * len(stored):
            raise RemovalRefusedError(
                f"this reindex would remove {summary.removed} of the {len(stored)} indexed "
                f"articles (is {collection} empty or not mounted?); nothing was changed. "
                "To remove them: citebot index --allow-removal, or /reindex confirm:True"
            )
        if not plan.to_add and not plan.to_delete and served is not None:
            summary.passages = (await old_store.counts())[1] if old_store else 0
            summary.seconds = time.perf_counter() - started
            return summary, None
        generation = new_generation()
        if old_store is not None and not rebuild:
            await old_store.backup_to(generation / STORE_FILE)
    finally:
        if old_store is not None:
            await old_store.close()
    store = await Store.open(generation / STORE_FILE)
    try:
        vectors = await _apply(store, plan, served, embedder, passage_tokens, rebuild, report)
        report("lexical", 0, 1)
        ids, texts = await store.all_passage_texts()
        lexical = await asyncio.to_thread(LexicalIndex.build, ids, texts)
        await asyncio.to_thread(lexical.save, generation / LEXICAL_FOLDER)
        await asyncio.to_thread(vectors.save, generation / VECTORS_FILE)
        report("lexical", 1, 1)
        summary.passages = len(vectors)
        Manifest(
            embedder.model_id, embedder.dimension, passage_tokens, vectors.kind, datetime.now(UTC)
        ).write(generation)
    finally:
        await store.close()
    summary.seconds = time.perf_counter() - started
    return summary, generation


@dataclass(frozen=True)
class _Prepared:
    """An article ready to store: everything computed from its text, off the event loop."""

    article: Article
    spans: list[PassageSpan]
    content_hash: str
    text_hash: str
    sentence_keys: set[bytes]


def _prepare(
    articles: list[Article], embedder: Embedder, max_tokens: int
) -> tuple[list[_Prepared], list[str]]:
    """Each article prepared for storing, and the texts to embed for all of them, in order."""
    prepared = [
        _Prepared(
            article,
            split_passages(article.title, article.text, embedder.count_tokens, max_tokens),
            content_hash(article),
            text_hash(article.text),
            article_keys(article.publisher, article.text),
        )
        for article in articles
    ]
    inputs = [
        embedding_input(item.article.title, item.article.text[span.start : span.end])
        for item in prepared
        for span in item.spans
    ]
    return prepared, inputs


async def _apply(
    store: Store,
    plan: _Plan,
    served: Path | None,
    embedder: Embedder,
    passage_tokens: int,
    rebuild: bool,
    report: Progress,
) -> VectorIndex:
    """Delete, split, embed and insert; returns the updated vector index."""
    if served is not None and not rebuild:
        vectors = await asyncio.to_thread(VectorIndex.load, served / VECTORS_FILE)
        removed = await store.delete_articles([a.id for a in plan.to_delete])
        await asyncio.to_thread(vectors.remove, np.asarray(removed, dtype=np.int64))
    else:
        vectors = VectorIndex.empty(embedder.dimension)
    max_tokens = min(passage_tokens, embedder.max_tokens)
    prepared, inputs = await asyncio.to_thread(_prepare, plan.to_add, embedder, max_tokens)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        report("embedding", done, len(inputs))

    report("embedding", 0, len(inputs))
    embedded = await asyncio.to_thread(embedder.embed, inputs, progress=advance)
    new_ids: list[int] = []
    offset = 0
    for item in prepared:
        chunk = embedded[offset : offset + len(item.spans)]
        offset += len(item.spans)
        new_ids.extend(
            await store.add_article(
                item.article,
                item.content_hash,
                item.text_hash,
                item.sentence_keys,
                item.spans,
                chunk,
            )
        )
    await store.commit()
    await store.refresh_boilerplate()
    await asyncio.to_thread(vectors.add, np.asarray(new_ids, dtype=np.int64), embedded)
    if vectors.needs_rebuild():
        report("vectors", 0, 1)
        ids, all_vectors = await store.all_vectors(embedder.dimension)
        vectors = await asyncio.to_thread(VectorIndex.build, ids, all_vectors)
        report("vectors", 1, 1)
    return vectors
