"""``search``: GET /api/v1/search over 100,000 implementation entries.

The entries are real rows: the 1,135 real items of 广安区 imported through
the catalogue import and copied over every county of the region tree
(``_search_docs.load``, before the server starts); the server indexes them
through the catalogue's own search provider, as in production. Each client
sends a mix of what people type — names and their words, traditional
characters, pinyin and initials, colloquial phrases, a homophone typo — each
with the region of a random county (region ranking on).

The first client's setup asks ``GET /api/v1/search/status``, which builds the
index (untimed) and reports the build time — reading the 100,000 entries and
their documents included — and the server's memory before and after it.

Ceiling: the same queries answered in this process by the same index code
(``Snapshot.search`` and, as the service does for a first page, the FAQ
matcher; the index built here from the same rows), no HTTP: what one core
gives when nothing else runs. Also reported: the uncached ("cold") cost of a
query, the snapshot's caches (analysis, group order, FAQ matches) cleared
before each one.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from urllib.parse import urlencode

from bench.client import HTTPConnection, Request
from bench.workloads import Ceiling, Context, Workload

PER_CLIENT = 200


class Search(Workload):
    description = "GET /api/v1/search over 100,000 generated implementation entries"

    def prepare(self, ctx: Context) -> None:
        from bench.workloads import _search_docs

        if not _search_docs.ITEMS_CSV.exists():
            raise SystemExit(f"shared data absent: {_search_docs.ITEMS_CSV}")
        t = time.perf_counter()
        loaded = _search_docs.load(ctx)
        ctx.state["loaded"] = loaded
        print(
            f"[bench] entries: {loaded['published_entries']} published in {loaded['counties']} counties "
            f"({loaded['imported']} imported, {loaded['copied']} copied, "
            f"{loaded['faq_rows']} FAQ rows, "
            f"{loaded['departments_created']} departments) in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        ctx.state["queries"] = _search_docs.queries()
        ctx.state["counties"] = counties_of(ctx)

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        if index == 0:
            t = time.perf_counter()
            resp = await conn.request(Request("GET", "/api/v1/search/status"))
            if resp.status != 200:
                raise SystemExit(f"search status: {resp.status} {resp.body[:300]!r}")
            status = resp.json()
            assert isinstance(status, dict)
            status["first_request_seconds"] = round(time.perf_counter() - t, 2)
            ctx.state["status"] = status
            print(
                f"[bench] index: {status.get('documents')} documents, {status.get('groups')} distinct texts, "
                f"built in {status.get('build_seconds')} s, server memory {status.get('rss_before_build_mb')} → "
                f"{status.get('rss_after_build_mb')} MB",
                file=sys.stderr,
            )
        probe = Request("GET", "/api/v1/search?" + urlencode({"q": "户口迁移"}))
        resp = await conn.request(probe)
        err = probe.check(resp)
        if err:
            raise SystemExit(f"client {index}: {err}")

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        rnd = random.Random(index)
        qs = ctx.state["queries"]
        counties = ctx.state["counties"]
        start = rnd.randrange(len(qs))
        out = []
        for n in range(PER_CLIENT):
            q = qs[(start + n) % len(qs)]
            params = {"q": q, "region": rnd.choice(counties)}
            out.append(Request("GET", "/api/v1/search?" + urlencode(params)))
        return out

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        from tongban.core.db import create_engine, make_sessionmaker
        from tongban.core.settings import Settings
        from tongban.search.analysis import is_pinyin_query
        from tongban.search.engine import SearchEngine, discover_providers

        discover_providers()
        settings = Settings(
            data_dir=ctx.data_dir, database_url=ctx.database_url, embedded_worker=False
        )
        db = create_engine(settings)
        try:
            engine = SearchEngine(make_sessionmaker(db))
            t = time.perf_counter()
            snap = await engine.build()
            build = time.perf_counter() - t
        finally:
            await db.dispose()
        qs = ctx.state["queries"]
        counties = ctx.state["counties"]
        rnd = random.Random(1)

        def answer(q: str, region: str) -> None:
            # what search.service.search asks of the snapshot for a first page
            snap.search(q, region=region)
            if not is_pinyin_query(q):
                snap.faq_answers(q, limit=3)

        cold: list[float] = []
        for q in qs:
            snap._cache.clear()
            snap._top_cache.clear()
            snap._faq_cache.clear()
            t0 = time.perf_counter()
            answer(q, rnd.choice(counties))
            cold.append((time.perf_counter() - t0) * 1000)
        lat: list[float] = []
        end = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            answer(qs[i % len(qs)], counties[i % len(counties)])
            lat.append((time.perf_counter() - t0) * 1000)
            i += 1
            if i % 1000 == 0:
                await asyncio.sleep(0)
        lat.sort()
        cold.sort()
        status = ctx.state.get("status", {})
        loaded = ctx.state.get("loaded", {})
        notes = [
            f"entries: {loaded.get('published_entries')} published ({loaded.get('imported')} imported through "
            f"the catalogue import in {loaded.get('import_seconds')} s, {loaded.get('copied')} copied to "
            f"{loaded.get('counties')} counties; {loaded.get('faq_rows')} FAQ rows; load {loaded.get('total_seconds')} s)",
            f"server index: {status.get('documents')} documents ({status.get('groups')} distinct texts), "
            f"built in {status.get('build_seconds')} s; server memory {status.get('rss_before_build_mb')} MB before "
            f"the build, {status.get('rss_after_build_mb')} MB after",
            f"in-process build here: {build:.1f} s; cold query (cache cleared): p50 {cold[len(cold) // 2]:.2f} ms, "
            f"p99 {cold[int(len(cold) * 0.99)]:.2f} ms over {len(cold)} queries",
        ]
        return Ceiling(
            ops_per_s=len(lat) / seconds,
            ops=len(lat),
            p50_ms=lat[len(lat) // 2],
            p99_ms=lat[int(len(lat) * 0.99)],
            what="Snapshot.search(q, region) + faq_answers(q) in process, no HTTP (the same queries)",
            notes=notes,
        )


def counties_of(ctx: Context) -> list[str]:
    """Codes of the counties in the run's database (the bundled tree)."""
    if ctx.db == "sqlite":
        import sqlite3

        con = sqlite3.connect(ctx.sqlite_path)
        try:
            return [
                r[0] for r in con.execute("SELECT code FROM region WHERE level = 3 ORDER BY code")
            ]
        finally:
            con.close()

    async def pg() -> list[str]:
        import asyncpg

        conn = await asyncpg.connect(ctx.asyncpg_dsn)
        try:
            return [
                r[0]
                for r in await conn.fetch("SELECT code FROM region WHERE level = 3 ORDER BY code")
            ]
        finally:
            await conn.close()

    return asyncio.run(pg())


WORKLOAD = Search()
