"""Indexes to benchmark on: Reuters embedded once (cached), grown to N passages.

Embedding 100k real passages takes too long on a small machine, so a large index is
made from the cached Reuters index: the real articles first, then copies of them under
new sources (``bench-copy-R/<source>``) whose passage vectors are the originals plus
Gaussian noise (norm ~0.2, cosine ~0.98 to the original), renormalized, inserted
directly into the store. The lexical (BM25) and vector (FAISS, kind chosen by size as in
a reindex) indexes are then built over all passages exactly as a reindex builds them.
Texts repeat, so BM25 sees each term R times as often as in one copy of Reuters.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import numpy as np

from retrieval.engine import Engine
from retrieval.index.datafolder import DataFolder
from retrieval.index.lexical import LexicalIndex
from retrieval.index.manifest import LEXICAL_FOLDER, STORE_FILE, VECTORS_FILE, Manifest
from retrieval.index.vectors import VectorIndex
from retrieval.models.embedder import Embedder
from retrieval.settings import Settings
from retrieval.store.articles import Store
from retrieval.types import IndexSummary

from .common import Step

NOISE = 0.2
"""Norm of the noise added to a copied passage's vector (cosine ~0.98 to the original)."""
GROWN_FILE = "bench-grown.json"


def corpus_settings(
    settings: Settings, collection: Path, data_dir: Path, *, reader: bool = False
) -> Settings:
    """The settings for a benchmark index; the reader is on only where it is measured."""
    return settings.model_copy(
        update={"collection": collection, "data_dir": data_dir, "reader": reader}
    )


async def index_collection(
    settings: Settings, embedder: Embedder, collection: Path, data_dir: Path, step: Step
) -> IndexSummary:
    """Incremental reindex of ``collection`` into ``data_dir`` (a no-op when cached)."""
    engine = await Engine.open(corpus_settings(settings, collection, data_dir), embedder)
    try:
        return await engine.reindex(collection, progress=step.stage("reuters"))
    finally:
        await engine.close()


async def grow(
    source_dir: Path, target: int, data_dir: Path, encoder_cache: Path, step: Step
) -> dict[str, object]:
    """A data folder serving ~``target`` passages made from ``source_dir``'s index.

    Reused when it was already grown from the same source generation. Returns how it
    was made (passages, copies, vector index kind).
    """
    source = DataFolder(source_dir).current()
    if source is None:
        raise RuntimeError(f"{source_dir} holds no index")
    marker = data_dir / GROWN_FILE
    folder = DataFolder(data_dir)
    if marker.exists() and folder.current() is not None:
        made: dict[str, object] = json.loads(marker.read_text(encoding="utf-8"))
        if made.get("source") == source.name and made.get("target") == target:
            return made
    generation = folder.new_generation()
    store = await Store.open(generation / STORE_FILE)  # creates the schema
    await store.close()
    step.update(0, 4)
    copies, passages = await asyncio.to_thread(
        _fill, source / STORE_FILE, generation / STORE_FILE, target
    )
    step.update(1, 4)
    store = await Store.open(generation / STORE_FILE)
    try:
        ids, texts = await store.all_passage_texts()
        manifest = Manifest.read(source)
        _, vectors = await store.all_vectors(manifest.dimension)
    finally:
        await store.close()
    lexical = await asyncio.to_thread(LexicalIndex.build, ids, texts)
    await asyncio.to_thread(lexical.save, generation / LEXICAL_FOLDER)
    step.update(2, 4)
    index = await asyncio.to_thread(VectorIndex.build, ids, vectors)
    await asyncio.to_thread(index.save, generation / VECTORS_FILE)
    step.update(3, 4)
    Manifest(
        manifest.model_id,
        manifest.dimension,
        manifest.passage_tokens,
        index.kind,
        manifest.built_at,
    ).write(generation)
    folder.publish(generation)
    folder.remove_stale(keep={generation})
    if not folder.encoder_cache.exists():
        # the quantized model a real deployment would already have cached
        folder.encoder_cache.symlink_to(encoder_cache.resolve(), target_is_directory=True)
    made = {
        "source": source.name,
        "target": target,
        "passages": passages,
        "copies": copies,
        "kind": index.kind,
        "params": index.params,
        "noise": NOISE,
    }
    marker.write_text(json.dumps(made), encoding="utf-8")
    step.update(4, 4)
    return made


def _fill(source: Path, target_file: Path, target: int) -> tuple[int, int]:
    """Copy articles (then noisy copies of them) from ``source`` until ``target`` passages.

    Returns (copy rounds beyond the originals, passages written).
    """
    db = sqlite3.connect(target_file, uri=False)
    try:
        db.execute("ATTACH DATABASE ? AS src", (f"{source.resolve().as_uri()}?mode=ro",))
        rows = db.execute(
            "SELECT a.id, count(p.id) FROM src.articles a"
            " JOIN src.passages p ON p.article_id = a.id GROUP BY a.id ORDER BY a.id"
        ).fetchall()
        if not rows:
            raise RuntimeError(f"{source} holds no passages")
        article_stride = int(db.execute("SELECT max(id) FROM src.articles").fetchone()[0]) + 1
        passage_stride = int(db.execute("SELECT max(id) FROM src.passages").fetchone()[0]) + 1
        rng = np.random.default_rng(0)
        written = 0
        copy = 0
        while written < target:
            picked: list[int] = []
            for article_id, count in rows:
                if written >= target:
                    break
                picked.append(article_id)
                written += count
            _copy_round(db, picked, copy, article_stride, passage_stride, rng)
            copy += 1
        db.commit()
        return copy - 1, written
    finally:
        db.close()


def _copy_round(
    db: sqlite3.Connection,
    picked: list[int],
    copy: int,
    article_stride: int,
    passage_stride: int,
    rng: np.random.Generator,
) -> None:
    db.execute("CREATE TEMP TABLE IF NOT EXISTS pick(id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM pick")
    db.executemany("INSERT INTO pick(id) VALUES (?)", [(i,) for i in picked])
    prefix = "" if copy == 0 else f"bench-copy-{copy}/"
    db.execute(
        "INSERT INTO articles(id, source, content_hash, text_hash, url, title, publisher,"
        " author, published_at, text) SELECT a.id + ?, ? || a.source, a.content_hash,"
        " a.text_hash, a.url, a.title, a.publisher, a.author, a.published_at, a.text"
        " FROM src.articles a JOIN pick ON pick.id = a.id",
        (copy * article_stride, prefix),
    )
    passages = db.execute(
        "SELECT p.id, p.article_id, p.ordinal, p.start, p.end, p.vector FROM src.passages p"
        " JOIN pick ON pick.id = p.article_id ORDER BY p.id"
    ).fetchall()
    vectors = np.frombuffer(b"".join(row[5] for row in passages), dtype=np.float32)
    vectors = vectors.reshape(len(passages), -1).copy()
    if copy:
        noise = rng.standard_normal(vectors.shape, dtype=np.float32)
        vectors += noise * (NOISE / np.sqrt(vectors.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db.executemany(
        "INSERT INTO passages(id, article_id, ordinal, start, end, vector) VALUES (?,?,?,?,?,?)",
        [
            (
                row[0] + copy * passage_stride,
                row[1] + copy * article_stride,
                row[2],
                row[3],
                row[4],
                vector.tobytes(),
            )
            for row, vector in zip(passages, vectors, strict=True)
        ],
    )
