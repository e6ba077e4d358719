"""Async twins of :class:`agora.Hub`'s calls, for notebooks and services with an event loop.

Each call runs in a worker thread: the native calls release the GIL while they wait on the
chain, the indexer, a provider or Kubo, so the loop keeps serving and several calls proceed at
once. Reads of the same asset share one download (a lock per digest in the cache).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import IO, Any

from .hub import Asset, Hub
from .job import Job, JobResult, JobState, Verdict


class AsyncHub:
    """``Hub``'s calls as coroutines: ``await AsyncHub(hub).buy(12)``, or ``hub.aio``."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @classmethod
    def local(cls, session: str | os.PathLike[str] | None = None, **overrides: Any) -> AsyncHub:
        """The stack a running ``agora dev`` started (see :meth:`Hub.local`)."""
        return cls(Hub.local(session, **overrides))

    async def search(self, query: str | None = None, **filters: Any) -> list[Asset]:
        """:meth:`Hub.search`."""
        return await asyncio.to_thread(self.hub.search, query, **filters)

    async def asset(self, asset_id: int) -> Asset:
        """:meth:`Hub.asset`."""
        return await asyncio.to_thread(self.hub.asset, asset_id)

    async def quote(self, asset_id: int, amount: int = 1) -> dict[str, Any]:
        """:meth:`Hub.quote`."""
        return await asyncio.to_thread(self.hub.quote, asset_id, amount)

    async def buy(self, asset_id: int, amount: int = 1, max_price: str | None = None) -> dict[str, Any]:
        """:meth:`Hub.buy`."""
        return await asyncio.to_thread(self.hub.buy, asset_id, amount, max_price)

    async def consume(self, asset_id: int, provider: str | None = None) -> int:
        """:meth:`Hub.consume`."""
        return await asyncio.to_thread(self.hub.consume, asset_id, provider)

    async def download(self, asset_id: int, path: str | os.PathLike[str], **options: Any) -> Path:
        """:meth:`Hub.download` (no progress bar unless ``progress=True``)."""
        options.setdefault("progress", False)
        return await asyncio.to_thread(self.hub.download, asset_id, path, **options)

    async def open(self, asset_id: int, path_in_folder: str | None = None, **options: Any) -> IO[bytes]:
        """:meth:`Hub.open`: the verified copy, opened once it is local."""
        return await asyncio.to_thread(self.hub.open, asset_id, path_in_folder, **options)

    async def run_job(self, kind: str | None = None, **arguments: Any) -> Job:
        """:meth:`Hub.run_job`."""
        return await asyncio.to_thread(self.hub.run_job, kind, **arguments)

    async def wait(self, job: Job, timeout: float | None = None) -> JobState:
        """:meth:`Job.wait`, without a progress bar."""
        return await asyncio.to_thread(job.wait, timeout, False)

    async def result(self, job: Job, path: str | os.PathLike[str] | None = None) -> JobResult:
        """:meth:`Job.result`."""
        return await asyncio.to_thread(job.result, path)

    async def verify(self, job: Job, **arguments: Any) -> Verdict:
        """:meth:`Job.verify`."""
        return await asyncio.to_thread(job.verify, **arguments)
