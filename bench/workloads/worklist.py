"""``worklist``: a window clerk's filtered queues over 1,000,000 cases.

Setup: the demo province, 16 published implementations (4 items × 历下区,
市中区, 济南市, 山东省 departments; ``_cases.publish``), then 1,000,000 cases
bulk-loaded through the raw driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL; the secondary indexes are built after the load), spread evenly
over the implementations — so over four regions and 16 departments —,
submitted over three years with ids in time order, each with the same kind of
~1.4 KB form as ``submit``. States follow age: cases older than two months
are almost all finished (送达, 不予受理, 撤回, 作废), recent ones are spread over
the open states (待受理, 审查中 with 待审查/待决定, 补正, 特别程序, 已办结 awaiting
delivery); about a tenth of the open ones carry a yellow or red card. No
trail or audit rows are loaded: the worklist does not read them.

Each client signs in as a window clerk (clients alternate between
``clerk.lixia`` and ``clerk.shizhong``; a clerk sees every department of its
district, ~250,000 cases) and cycles through 14 requests a workbench sends:
``GET /api/v1/cases`` with ``queue=to_accept`` alone, on a later keyset page
(``before=``), with ``department_id``, ``implementation_id``, ``channel``,
a week of ``submitted_from``/``submitted_to``, an ``applicant`` name prefix;
the other queues (``to_review``, ``to_decide``, ``corrections``, ``paused``,
``red``); the finished cases of one past month (``state=delivered`` with
dates); and ``GET /api/v1/cases/queues`` (the eight queue counts).
Every answer must be 200.

Once every client is set up, client 0 times each request alone (nothing
else running, 5 times each, median) — printed as notes with the ceiling.

Ceiling: the same list query (``to_accept``, the clerk's scope, newest 21)
through the raw driver, in autocommit.

The supervision sweep is recorded as having just run (``_sweep_ran_now``):
it runs every 10 minutes over every open case and would otherwise start with
the server, inside the measured window.

Cache: set ``TONGBAN_BENCH_CACHE=DIR`` to keep the loaded database, keyed by
the migrations, the demo and this loader, and start the next run from a copy
instead of loading again: SQLite, a copy of the file in DIR (~4 GB);
PostgreSQL, a template database ``tongban_cache_worklist_<key>`` on the server
(useful with a server that outlives the run: ``TONGBAN_BENCH_DATABASE_URL``;
drop it with ``DROP DATABASE``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import inspect
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from bench.ceiling import pg_loop, pg_sql, sqlite_loop, sqlite_ts
from bench.client import HTTPConnection, Request, json_request
from bench.workloads import Ceiling, Context, Workload
from bench.workloads._cases import form_data, publish
from bench.workloads._demo import load_demo

N_CASES = int(os.environ.get("TONGBAN_BENCH_WORKLIST_CASES", "1000000"))
LOGIN = "/api/v1/auth/login"
CASES = "/api/v1/cases"
QUEUES = "/api/v1/cases/queues"
SESSION_COOKIE = "tongban_session"
CLERKS = ["clerk.lixia", "clerk.shizhong"]
REGION_OF_CLERK = {"clerk.lixia": "370102000000", "clerk.shizhong": "370103000000"}
REGIONS = ["370102000000", "370103000000", "370100000000", "370000000000"]
YEARS = 3
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)  # the newest case; the bench day is 2026-11-21
START = NOW - dt.timedelta(days=365 * YEARS)
LOADER_VERSION = "1"

# State mix by age in days: (upper bound of the age, [(state, at_last_step, weight)])
MIX = [
    (
        5,
        [
            ("submitted", False, 55),
            ("correction", False, 8),
            ("reviewing", False, 20),
            ("reviewing", True, 5),
            ("rejected", False, 4),
            ("withdrawn", False, 3),
            ("concluded", False, 5),
        ],
    ),
    (
        20,
        [
            ("submitted", False, 3),
            ("correction", False, 6),
            ("reviewing", False, 30),
            ("reviewing", True, 15),
            ("suspended", False, 4),
            ("concluded", False, 15),
            ("delivered", False, 20),
            ("rejected", False, 4),
            ("withdrawn", False, 3),
        ],
    ),
    (
        60,
        [
            ("reviewing", False, 5),
            ("reviewing", True, 3),
            ("suspended", False, 3),
            ("correction", False, 2),
            ("concluded", False, 5),
            ("delivered", False, 75),
            ("rejected", False, 4),
            ("withdrawn", False, 2),
            ("voided", False, 1),
        ],
    ),
    (
        10**6,
        [
            ("delivered", False, 925),
            ("rejected", False, 40),
            ("withdrawn", False, 20),
            ("voided", False, 8),
            ("suspended", False, 3),
            ("correction", False, 2),
            ("submitted", False, 1),
            ("reviewing", False, 1),
        ],
    ),
]
CHANNELS = [("pc", 50), ("mobile", 30), ("window", 15), ("kiosk", 5)]
STEPS_JSON = orjson.dumps(
    [
        {"name": "承办", "role": "approver"},
        {"name": "审核", "role": "approver"},
        {"name": "批准", "role": "approver"},
    ]
).decode()
STEP_NAMES = ["承办", "审核", "批准"]

COLUMNS = [
    "id",
    "number",
    "implementation_id",
    "implementation_version_id",
    "department_id",
    "item_name",
    "applicant_person_id",
    "applicant_enterprise_id",
    "applicant_name",
    "submitted_by",
    "channel",
    "idempotency_key",
    "state",
    "step_index",
    "current_step",
    "at_last_step",
    "steps",
    "form_data",
    "limit_value",
    "limit_unit",
    "extension_days",
    "correction_round",
    "submitted_at",
    "accept_due_at",
    "accepted_at",
    "due_at",
    "step_started_at",
    "concluded_at",
    "delivered_at",
    "outcome",
    "outcome_reason",
    "delivery_method",
    "tracking_number",
    "alert",
    "created_at",
    "updated_at",
    "region_code",
]
OUTCOME = {"delivered": "0", "rejected": "6", "withdrawn": "5", "voided": "2", "concluded": "0"}


def _pick(rng: random.Random, table: list[tuple]) -> tuple:
    return rng.choices(table, weights=[t[-1] for t in table])[0]


def generate(setup: dict[str, Any], n: int, *, sqlite: bool, seed: int = 4) -> Iterator[tuple]:
    """The case rows, in id order (values as the product stores them)."""
    rng = random.Random(seed)
    impls = setup["implementations"]
    people = list(setup["citizens"].values())
    clerk_ids = {c["region_code"]: c["account_id"] for c in setup["clerks"].values()}
    forms = [orjson.dumps(form_data(p, i)).decode() for i, p in enumerate(people)]
    counters: dict[tuple[str, str], int] = {}
    span = (NOW - START).total_seconds()
    ts = sqlite_ts if sqlite else (lambda t: t)
    for case_id in range(1, n + 1):
        at = START + dt.timedelta(seconds=span * case_id / n)
        impl = impls[rng.randrange(len(impls))]
        pi = rng.randrange(len(people))
        person = people[pi]
        channel = _pick(rng, CHANNELS)[0]
        age_days = (NOW - at).days
        state, last, _w = _pick(rng, next(m for bound, m in MIX if age_days < bound))
        region = impl["region_code"]
        day = (at + dt.timedelta(hours=8)).strftime("%Y%m%d")
        seq = counters[(region[:6], day)] = counters.get((region[:6], day), 0) + 1
        accepted = state in ("reviewing", "suspended", "concluded", "delivered")
        accepted_at = at + dt.timedelta(days=1) if accepted else None
        step_index = (2 if last else rng.randrange(2)) if state in ("reviewing", "suspended") else 0
        concluded_at = (
            at + dt.timedelta(days=8)
            if state in ("concluded", "delivered", "rejected", "withdrawn", "voided")
            else None
        )
        # the supervision sweep's colours, approximately: 5 working days to accept, ~10 to decide
        alert = ""
        if state == "submitted":
            alert = "red" if age_days > 7 else "yellow" if age_days >= 5 else ""
        elif state == "reviewing":
            alert = "red" if age_days > 15 else "yellow" if age_days >= 12 else ""
        row = (
            case_id,
            f"{region[:6]}-{day}-{seq:06d}",
            impl["id"],
            impl["version_id"],
            impl["department_id"],
            impl["name"],
            person["person_id"],
            None,
            person["name"],
            clerk_ids[region]
            if channel == "window" and region in clerk_ids
            else person["account_id"],
            channel,
            f"bulk-{case_id:010d}",
            state,
            step_index,
            STEP_NAMES[step_index] if state in ("reviewing", "suspended") else "",
            last,
            STEPS_JSON,
            forms[pi],
            10,
            "working_day",
            0,
            1 if state == "correction" else 0,
            ts(at),
            ts(at + dt.timedelta(days=7)),
            ts(accepted_at) if accepted_at else None,
            ts(at + dt.timedelta(days=15)) if state in ("reviewing",) else None,
            ts(accepted_at) if state in ("reviewing", "suspended") else None,
            ts(concluded_at) if concluded_at else None,
            ts(at + dt.timedelta(days=9)) if state == "delivered" else None,
            OUTCOME.get(state),
            "",
            "electronic" if state == "delivered" else None,
            None,
            alert,
            ts(at),
            ts(concluded_at or at),
            region,
        )
        yield row


# -- loading ---------------------------------------------------------------------------


def _batches(it: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in it:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(path: Path, setup: dict[str, Any], n: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-500000")
        # secondary indexes: dropped for the load, rebuilt after (a sort each, not a random insert per row)
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'case' AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        sql = f'INSERT INTO "case" ({", ".join(COLUMNS)}) VALUES ({", ".join("?" * len(COLUMNS))})'  # noqa: S608 - constant
        conn.execute("BEGIN")
        for batch in _batches(generate(setup, n, sqlite=True), 50_000):
            conn.executemany(sql, batch)
        conn.execute("COMMIT")
        for _name, sql_ in indexes:
            conn.execute(sql_)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def load_pg(dsn: str, setup: dict[str, Any], n: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        # secondary indexes and unique constraints: dropped for the load, rebuilt after
        cons = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = '\"case\"'::regclass AND contype = 'u'"
        )
        idx = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'case' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = '\"case\"'::regclass)"
        )
        for c in cons:
            await conn.execute(f'ALTER TABLE "case" DROP CONSTRAINT "{c["conname"]}"')
        for i in idx:
            await conn.execute(f'DROP INDEX "{i["indexname"]}"')
        async with conn.transaction():
            # the rows reference existing accounts, persons, departments, implementations:
            # skip the per-row foreign-key triggers when allowed (superuser), check nothing else
            if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                await conn.execute("SET LOCAL session_replication_role = replica")
            for batch in _batches(generate(setup, n, sqlite=False), 50_000):
                await conn.copy_records_to_table("case", records=batch, columns=COLUMNS)
        for c in cons:
            await conn.execute(f'ALTER TABLE "case" ADD CONSTRAINT "{c["conname"]}" {c["def"]}')
        for i in idx:
            await conn.execute(i["indexdef"])
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))"
        )
        # autovacuum would vacuum and analyze the table soon after such a load; do it now
        await conn.execute('VACUUM ANALYZE "case"')
    finally:
        await conn.close()


def _admin_dsn(ctx: Context) -> tuple[str, str]:
    """(the server's maintenance database URL, the run's database name)."""
    parts = urlsplit(ctx.asyncpg_dsn)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


async def _pg_to_template(ctx: Context, template: str) -> bool:
    """Keep a copy of the loaded database on the server (CREATE DATABASE …
    TEMPLATE): later runs against the same server start from it."""
    import asyncpg

    admin, name = _admin_dsn(ctx)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{template}"')
        await conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
        _log(f"cached the database as {template} on the server")
        return True
    except asyncpg.PostgresError as e:
        _log(f"could not keep a copy of the database: {e}")
        return False
    finally:
        await conn.close()


async def _pg_from_template(ctx: Context, template: str) -> bool:
    """Replace the run's fresh database with a copy of the cached one."""
    import asyncpg

    admin, name = _admin_dsn(ctx)
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template):
            return False
        t = time.perf_counter()
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        _log(f"copied the cached database {template} in {time.perf_counter() - t:.1f} s")
        return True
    finally:
        await conn.close()


def _cache_key() -> str:
    """The migrations, the demo, the catalogue setup and this loader (the
    generator and the load functions, not the rest of this module)."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256(f"{LOADER_VERSION}/{N_CASES}".encode())
    for p in [
        *sorted((root / "src/tongban/migrations/versions").glob("*.py")),
        root / "src/tongban/demo.py",
        root / "bench/workloads/_cases.py",
    ]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    for fn in (generate, load_sqlite, load_pg):
        h.update(inspect.getsource(fn).encode())
    h.update(repr((MIX, CHANNELS, COLUMNS, START, NOW)).encode())
    return h.hexdigest()[:16]


def _log(msg: str) -> None:
    print(f"[bench] worklist: {msg}", file=sys.stderr, flush=True)


# -- the workload ------------------------------------------------------------------------


class Worklist(Workload):
    description = "GET /api/v1/cases?queue=… (a clerk's filtered queues, keyset pages) and the queue counts, over 1M cases"

    def prepare(self, ctx: Context) -> None:
        cache_dir = os.environ.get("TONGBAN_BENCH_CACHE")
        key = _cache_key()
        if cache_dir and ctx.db == "sqlite":
            cached = Path(cache_dir) / f"worklist-{key}"
            if (cached / "tongban.db").exists():
                t = time.perf_counter()
                shutil.copyfile(cached / "tongban.db", ctx.sqlite_path)
                for suffix in ("-wal", "-shm"):
                    Path(f"{ctx.sqlite_path}{suffix}").unlink(missing_ok=True)
                ctx.state.update(json.loads((cached / "state.json").read_text(encoding="utf-8")))
                _log(f"copied the cached database from {cached} in {time.perf_counter() - t:.1f} s")
                asyncio.run(_sweep_ran_now(ctx))
                return
        if cache_dir and ctx.db == "postgresql":
            cached = Path(cache_dir) / f"worklist-pg-{key}.json"
            if cached.exists() and asyncio.run(
                _pg_from_template(ctx, f"tongban_cache_worklist_{key}")
            ):
                ctx.state.update(json.loads(cached.read_text(encoding="utf-8")))
                asyncio.run(_sweep_ran_now(ctx))
                return
        load_demo(ctx)
        setup = publish(ctx)
        t = time.perf_counter()
        if ctx.db == "sqlite":
            load_sqlite(ctx.sqlite_path, setup, N_CASES)
        else:
            asyncio.run(load_pg(ctx.asyncpg_dsn, setup, N_CASES))
        _log(f"loaded {N_CASES:,} cases in {time.perf_counter() - t:.1f} s")
        if cache_dir:
            state = json.dumps({k: ctx.state[k] for k in ("demo", "cases")}, ensure_ascii=False)
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            if ctx.db == "sqlite":
                cached = Path(cache_dir) / f"worklist-{key}"
                cached.mkdir(exist_ok=True)
                shutil.copyfile(ctx.sqlite_path, cached / "tongban.db")
                (cached / "state.json").write_text(state, encoding="utf-8")
                _log(f"cached the database in {cached}")
            elif asyncio.run(_pg_to_template(ctx, f"tongban_cache_worklist_{key}")):
                (Path(cache_dir) / f"worklist-pg-{key}.json").write_text(state, encoding="utf-8")
        asyncio.run(_sweep_ran_now(ctx))

    async def setup_client(self, ctx: Context, index: int, conn: HTTPConnection) -> None:
        username = CLERKS[index % len(CLERKS)]
        req = json_request(
            "POST",
            LOGIN,
            {"username": username, "password": ctx.state["demo"]["password"]},
            expect=(200,),
            expect_cookie=SESSION_COOKIE,
        )
        err = req.check(await conn.request(req))
        if err:
            raise SystemExit(f"client {index} could not sign in as {username}: {err}")
        ctx.state.setdefault("tokens", {})[index] = conn.cookies[SESSION_COOKIE]
        if index < len(CLERKS):
            # cursors for a later page: follow ``next`` four pages down the to_accept queue
            before = None
            for _ in range(4):
                r = await conn.request(
                    Request(
                        "GET",
                        f"{CASES}?queue=to_accept&limit=20"
                        + (f"&before={before}" if before else ""),
                    )
                )
                before = r.json()["next"]
            ctx.state.setdefault("cursor", {})[username] = before

    async def after_setup(self, ctx: Context, conns: list[HTTPConnection]) -> None:
        # each request alone (5 times, median), on a server with nothing else to do
        timings = {}
        for label, req in self._requests(ctx, 0):
            lat = []
            for _ in range(5):
                t0 = time.perf_counter()
                resp = await conns[0].request(req)
                lat.append((time.perf_counter() - t0) * 1000)
                if err := req.check(resp):
                    raise SystemExit(f"client 0: {err}")
            body = resp.json()
            n = len(body["items"]) if "items" in body else sum(q["count"] for q in body.values())
            timings[label] = (statistics.median(lat), n)
        ctx.state["timings"] = timings
        if ctx.db == "postgresql":
            ctx.state["pg_sessions"] = await _pg_sessions(ctx)

    def _requests(self, ctx: Context, index: int) -> list[tuple[str, Request]]:
        username = CLERKS[index % len(CLERKS)]
        region = REGION_OF_CLERK[username]
        impls = [i for i in ctx.state["cases"]["implementations"] if i["region_code"] == region]
        week_to = (NOW + dt.timedelta(hours=8)).date()
        week_from = week_to - dt.timedelta(days=6)
        past_month = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))

        def get(label: str, **q: Any) -> tuple[str, Request]:
            return label, Request("GET", f"{CASES}?{urlencode({**q, 'limit': 20})}", expect=(200,))

        return [
            get("to_accept", queue="to_accept"),
            get("to_accept, page 5", queue="to_accept", before=ctx.state["cursor"][username]),
            get(
                "to_accept + department", queue="to_accept", department_id=impls[1]["department_id"]
            ),
            get("to_accept + implementation", queue="to_accept", implementation_id=impls[2]["id"]),
            get("to_accept + channel=window", queue="to_accept", channel="window"),
            get(
                "to_accept + last 7 days",
                queue="to_accept",
                submitted_from=week_from.isoformat(),
                submitted_to=week_to.isoformat(),
            ),
            get("to_accept + applicant 王", queue="to_accept", applicant="王"),
            get("to_review", queue="to_review"),
            get("to_decide", queue="to_decide"),
            get("corrections", queue="corrections"),
            get("paused", queue="paused"),
            get("red", queue="red"),
            get(
                "delivered in 2025-03",
                state="delivered",
                submitted_from=past_month[0].isoformat(),
                submitted_to=past_month[1].isoformat(),
            ),
            ("queue counts", Request("GET", QUEUES, expect=(200,))),
        ]

    def make_requests(self, ctx: Context, index: int) -> list[Request]:
        return [r for _label, r in self._requests(ctx, index)]

    async def ceiling(self, ctx: Context, clients: int, seconds: float) -> Ceiling:
        opened = None
        if ctx.db == "postgresql" and "pg_sessions" in ctx.state:
            # before the ceiling's own pool: the sessions the server opened meanwhile
            opened = await _pg_sessions(ctx) - ctx.state["pg_sessions"] - 1
        # cases.api.list_cases for queue=to_accept, a clerk of 历下区 (whole district), newest page:
        # the page's ids from the index, then their summary columns
        sql = (
            f'SELECT {", ".join(SUMMARY)} FROM "case" WHERE id IN (SELECT id FROM "case" '  # noqa: S608 - constant
            "WHERE region_code >= ? AND region_code < ? AND state = 'submitted' ORDER BY id DESC LIMIT 21) "
            "ORDER BY id DESC"
        )
        lo, hi = "370102000000", "370103000000"
        what = "the to_accept page of a district clerk: ids by (state, id) in the region range, newest 21, then their summary columns (autocommit)"
        if ctx.db == "sqlite":
            result = sqlite_loop(
                ctx, lambda conn, i: conn.execute(sql, (lo, hi)).fetchall(), seconds, what=what
            )
        else:
            q = pg_sql(sql)

            async def op(conn, i: int) -> None:
                await conn.fetch(q, lo, hi)

            result = await pg_loop(ctx, op, clients, seconds, what=what)
        for label, (ms, n) in ctx.state.get("timings", {}).items():
            result.notes.append(
                f"alone: {label:<28} {ms:7.2f} ms  ({n:,} {'counted' if label == 'queue counts' else 'rows'})"
            )
        if opened is not None:
            # each one a new backend that prepares and plans every statement again
            # (~14 ms of server CPU): past the pools' first connections (warm-up),
            # none should open under load (a pool closing overflow connections
            # opened 6-9 a second here)
            result.notes.append(
                f"PostgreSQL sessions opened while driving the clients (warm-up included): {opened}"
            )
        return result


SUMMARY = [  # cases.api.SUMMARY_COLUMNS
    "id",
    "number",
    "item_name",
    "implementation_id",
    "department_id",
    "region_code",
    "applicant_name",
    "channel",
    "state",
    "current_step",
    "alert",
    "submitted_at",
    "accept_due_at",
    "accepted_at",
    "due_at",
    "concluded_at",
    "delivered_at",
    "outcome",
]


async def _pg_sessions(ctx: Context) -> int:
    """The sessions the server has opened on the bench's database so far
    (``pg_stat_database.sessions``, PostgreSQL 14+; this one's included)."""
    import asyncpg

    c = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        return int(
            await c.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            or 0
        )
    finally:
        await c.close()


async def _sweep_ran_now(ctx: Context) -> None:
    """Record that the supervision sweep (``cases.supervision_sweep``, every 10
    minutes) just ran, as on a server restarted between two sweeps: the loaded
    cases carry its colours already, and its run over the whole table is not
    the worklist (it would start with the server, during the measurement)."""
    at = dt.datetime.now(dt.UTC)
    sql = (
        "INSERT INTO job_run (name, last_started_at, last_finished_at, last_error) VALUES (?, ?, ?, NULL) "
        "ON CONFLICT (name) DO UPDATE SET last_started_at = excluded.last_started_at, "
        "last_finished_at = excluded.last_finished_at, last_error = NULL"
    )
    if ctx.db == "sqlite":
        conn = sqlite3.connect(ctx.sqlite_path)
        try:
            conn.execute(sql, ("cases.supervision_sweep", sqlite_ts(at), sqlite_ts(at)))
            conn.commit()
        finally:
            conn.close()
        return
    import asyncpg

    c = await asyncpg.connect(ctx.asyncpg_dsn)
    try:
        await c.execute(pg_sql(sql), "cases.supervision_sweep", at, at)
    finally:
        await c.close()


WORKLOAD = Worklist()
