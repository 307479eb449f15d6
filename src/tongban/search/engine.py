"""The per-process search engine: providers, the current snapshot, rebuilds,
and the search-log buffer.

Providers register once at import (``register_provider``). Modules named
``tongban.<package>.search_provider`` are imported before the first build, so
a domain only has to create that module.

Several web workers stay consistent through ``search_state.version``: every
change that should reach the index (catalogue published, synonyms approved,
FAQ imported, a staff correction) bumps it in its own transaction
(``service.mark_changed``); each process reads it at most every
``CHECK_SECONDS`` while serving searches and rebuilds in the background when
it moved, swapping the snapshot whole. Queries never wait for a rebuild —
except the very first, which has nothing to serve yet.

Search logs are buffered in memory and written in batches every
``FLUSH_SECONDS`` (or ``FLUSH_ROWS``): a write per search would put every
search behind the SQLite write lock. A crash loses at most the last seconds
of logs, never anything a person submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import inspect
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tongban.search import repository
from tongban.search.index import Provider, SearchDocument, Snapshot

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
REBUILD_GAP = 3.0  # × the last build's duration: rebuilds take at most a quarter of the time
FLUSH_SECONDS = 2.0
FLUSH_ROWS = 500

_providers: dict[str, Provider] = {}
_discovered = False
_latest: Snapshot | None = None


def latest_snapshot() -> Snapshot | None:
    """The snapshot this process built last (for callers without an engine)."""
    return _latest


def register_provider(kind: str, fn: Provider) -> None:
    """Register ``async fn(session) -> iterable of SearchDocument`` for ``kind``
    ("item", "guide", "faq"). A later registration for the kind replaces it."""
    _providers[kind] = fn


def registered_providers() -> dict[str, Provider]:
    return dict(_providers)


def unregister_provider(kind: str) -> None:
    _providers.pop(kind, None)


def discover_providers() -> list[str]:
    """Import ``tongban.<package>.search_provider`` modules (once)."""
    global _discovered
    if _discovered:
        return []
    import tongban

    loaded = []
    base = Path(tongban.__file__).resolve().parent
    for pkg in sorted(p for p in base.iterdir() if (p / "__init__.py").is_file()):
        if (pkg / "search_provider.py").is_file():
            name = f"tongban.{pkg.name}.search_provider"
            try:
                importlib.import_module(name)
                loaded.append(name)
            except Exception:  # a broken provider must not take search down
                log.exception("search provider %s failed to import", name)
    # Extra provider modules (TONGBAN_SEARCH_PROVIDER_MODULES): a
    # deployment's own providers.
    from tongban.core.settings import get_settings

    for name in filter(
        None, (m.strip() for m in get_settings().search_provider_modules.split(","))
    ):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:
            log.exception("search provider %s failed to import", name)
    _discovered = True
    return loaded


async def _collect(fn: Provider, session: AsyncSession) -> list[SearchDocument]:
    result = fn(session)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        return [d async for d in result]
    return list(result or ())


async def load_documents(session: AsyncSession) -> tuple[dict[str, Any], list[SearchDocument]]:
    """Everything a build needs, read in one transaction."""
    discover_providers()
    docs: list[SearchDocument] = []
    for kind, fn in sorted(_providers.items()):
        try:
            docs.extend(await _collect(fn, session))
        except Exception:
            log.exception(
                "search provider %r failed; its documents are left out of this build", kind
            )
    extra = {
        "synonyms": await repository.get_approved_synonyms(session),
        "corrections": await repository.get_corrections(session),
        "clicks": await repository.get_clicks(session),
        "regions": await repository.get_regions(session),
        "version": await repository.get_version(session),
    }
    return extra, docs


def build_snapshot(extra: dict[str, Any], docs: Iterable[SearchDocument]) -> Snapshot:
    return Snapshot(
        docs,
        synonyms=extra["synonyms"],
        corrections=extra["corrections"],
        clicks=extra["clicks"],
        regions=extra["regions"],
        version=extra["version"],
    )


class SearchEngine:
    """One per application (per process): the snapshot and its upkeep."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.check_seconds = check_seconds
        # Tests: answer a changed version with the new snapshot (never in production,
        # where a query must not wait for a build).
        self.wait_for_rebuild = False
        self.snapshot: Snapshot | None = None
        self.checked_at = 0.0
        self.build_seconds = 0.0
        self.rss_mb = (0.0, 0.0)  # process memory before and after the last build
        self.built_at = 0.0
        self._build_lock = asyncio.Lock()
        self._first_lock = asyncio.Lock()
        self._rebuild: asyncio.Task[None] | None = None
        self._logs: dict[str, dict[str, Any]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def build(self) -> Snapshot:
        """Read everything and build a snapshot (the CPU part in a thread, so
        the event loop keeps answering with the previous snapshot)."""
        async with self._build_lock:
            t = time.perf_counter()
            rss_before = _rss_mb()
            async with self.sessionmaker() as session:
                extra, docs = await load_documents(session)
                await session.rollback()
            snap = await asyncio.to_thread(build_snapshot, extra, docs)
            global _latest
            self.snapshot = _latest = snap
            # Millions of long-lived index objects: keep them out of the
            # cyclic garbage collector's full passes, whose pauses would
            # otherwise land on random requests (they are freed by reference
            # counting when the next snapshot replaces this one).
            gc.collect()
            gc.freeze()
            self.build_seconds = time.perf_counter() - t
            self.rss_mb = (rss_before, _rss_mb())
            self.built_at = time.monotonic()
            self.checked_at = time.monotonic()
            log.info(
                "search index built",
                extra={"fields": {"seconds": round(self.build_seconds, 2), **snap.stats()}},
            )
            return snap

    async def current(self, conn: Any = None) -> Snapshot:
        """The snapshot to answer with; starts a background rebuild when the
        version in the database moved (checked at most every few seconds)."""
        snap = self.snapshot
        if snap is None:
            return await self._first_build()
        now = time.monotonic()
        # A rebuild is CPU work in a thread that competes with the requests
        # for the interpreter: after one, wait REBUILD_GAP times as long as it
        # took before the next (a 15-second build of 100,000 entries, then
        # at least 45 s of answering from it), however often things change.
        gap = 0.0 if self.wait_for_rebuild else REBUILD_GAP * self.build_seconds
        if (
            now - self.checked_at >= self.check_seconds
            and now - self.built_at >= gap
            and (self._rebuild is None or self._rebuild.done())
        ):
            self.checked_at = now
            try:
                if conn is not None:
                    version = await repository.get_version(conn)
                else:
                    async with self.sessionmaker() as session:
                        version = await repository.get_version(session)
            except Exception:
                log.exception("search: reading the index version failed")
                return snap
            if version != snap.version:
                if self.wait_for_rebuild:
                    return await self.build()
                self._rebuild = asyncio.create_task(self._background_build())
        return snap

    async def _first_build(self) -> Snapshot:
        """The first snapshot, built once however many requests ask for it
        at the same time (each used to queue on the lock and build again:
        eight concurrent first searches took eight builds, 90 s at 100,000
        entries)."""
        async with self._first_lock:
            if self.snapshot is None:
                await self.build()
        assert self.snapshot is not None
        return self.snapshot

    async def refresh(self) -> Snapshot:
        """Rebuild now if the version moved (tests, the CLI, after an import)."""
        async with self.sessionmaker() as session:
            version = await repository.get_version(session)
        if self.snapshot is None or self.snapshot.version != version:
            return await self.build()
        return self.snapshot

    async def _background_build(self) -> None:
        try:
            await self.build()
        except Exception:
            log.exception("search: rebuilding the index failed; the previous one stays")

    # --- the search log ---------------------------------------------------------------------

    def log_search(self, row: dict[str, Any]) -> None:
        self._logs[row["search_id"]] = row
        if len(self._logs) >= FLUSH_ROWS:
            self._start_flusher(now=True)
        else:
            self._start_flusher()

    def buffered(self, search_id: str) -> dict[str, Any] | None:
        return self._logs.get(search_id)

    def _start_flusher(self, *, now: bool = False) -> None:
        if self._flusher is not None and not self._flusher.done():
            return
        with contextlib.suppress(RuntimeError):  # no running loop: flushed by the next caller
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_later(0 if now else FLUSH_SECONDS)
            )

    async def _flush_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            async with self.sessionmaker() as session:
                await self.flush_logs(session)
                await session.commit()
        except Exception:
            log.exception("search: writing the search log failed")

    async def flush_logs(self, session: AsyncSession) -> int:
        """Write the buffered search logs in the caller's transaction."""
        if not self._logs:
            return 0
        rows = list(self._logs.values())
        self._logs = {}
        await repository.insert_logs(session, rows)
        return len(rows)


def _rss_mb() -> float:
    """Resident memory of this process, MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def get_engine(app: Any) -> SearchEngine:
    """The application's engine (created on first use)."""
    engine = getattr(app.state, "search_engine", None)
    if engine is None:
        engine = app.state.search_engine = SearchEngine(app.state.sessionmaker)
    return engine
