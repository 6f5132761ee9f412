"""Concurrent questions share one encoder call instead of queueing one call each."""

from __future__ import annotations

import asyncio

import numpy as np

from retrieval.models.embedder import Embedder


class BatchingEncoder:
    """Embeds questions, batching those that arrive while a call is running.

    The first question is embedded at once (no waiting to fill a batch); questions
    that arrive during that call are embedded together in the next one, so under
    load the encoder runs few, full batches instead of many single ones.
    """

    def __init__(self, embedder: Embedder, max_batch: int = 64) -> None:
        self._embedder = embedder
        self._max_batch = max_batch
        self._pending: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None

    async def embed(self, text: str) -> np.ndarray:
        """The unit vector for ``text``."""
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    vectors = await asyncio.to_thread(
                        self._embedder.embed, [text for text, _ in batch]
                    )
                except Exception as error:  # every waiter gets the encoder's error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), vector in zip(batch, vectors, strict=True):
                    if not future.done():
                        future.set_result(vector)
        finally:
            self._draining = False
