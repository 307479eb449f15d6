"""Case submission on the hot route (``web.app.HotRoutes``).

``POST /api/v1/cases`` — the hottest write (bench/run.py submit) — without
FastAPI's routing and dependency graph (~0.9 ms of CPU per submission), in
two ways:

- **The driver path**, for the common submission: a person signed in with a
  session cookie files a new case for themself (no enterprise, no
  materials). Its statements run on the driver connection of a pooled
  connection (``web.deps.raw_connection``), as ``GET /api/v1/me/records``
  does: the session (``identity.service.resolve_session_with``) and the
  submission probe (``service._submit_probe_stmt``, written out below) — on
  PostgreSQL in one statement —, then
  one write transaction — on SQLite behind the database file's write lock
  (``sqlite_inline.write_transaction``) with the very writes of
  ``service.write_sqlite``, on a connection held for them
  (``_sqlite_writer``: its page cache stays warm from one submission to the
  next); on PostgreSQL one statement in autocommit
  (``service._pg_submit_stmt``, compiled once for asyncpg with SQLAlchemy's
  bind processors: the day's counter and the audit head of one of the
  region's lanes stay locked only while it runs and commits), else the two
  statements of ``service._file_pg`` and the outbox deliveries in a
  transaction (``_file_pg`` below says when).
  The case's columns come from ``service.new_case_values``, the form is
  checked by ``forms.validate_submission``, the answer is
  ``api.case_summary``: the same rows and the same JSON as the general path.

- **The general path** for everything else: the endpoint FastAPI serves
  (``cases.api.submit``) with the transaction and the actor set up as
  ``web.deps`` sets them up (``db``; ``optional_actor`` + ``require_actor``,
  the same functions: bearer tokens, CSRF for a cookie session,
  ``not_authenticated``). The driver path hands over to it whenever a
  request is not the plain case, *before* writing anything (or after rolling
  back its transaction): an API client, staff, an enterprise, materials, a
  key already used, any refusal or error. So every error — its code,
  message, details and the order of the checks — is the general path's own.

tests/cases/test_submit_hot.py compares both with the FastAPI route.
The FastAPI route stays registered (OpenAPI documents it).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.util import greenlet_spawn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tongban.cases import api, lifecycle, service
from tongban.catalogue import forms
from tongban.core import workdays
from tongban.core.clock import now
from tongban.core.errors import AppError
from tongban.core.outbox import OutboxDelivery, handlers_for
from tongban.core.sqlite_inline import write_transaction
from tongban.identity.repository import RawStatement
from tongban.identity.service import (
    resolve_session_raw,
    resolve_session_with,
    session_statement,
)
from tongban.web import deps
from tongban.web.app import ORJSONResponse


async def submit(request: Request) -> Response:
    """``POST /api/v1/cases``: the driver path when it applies, else the general one."""
    if request.cookies.get(deps.SESSION_COOKIE) and not request.headers.get(
        "authorization", ""
    ).lower().startswith("bearer "):
        response = await _driver_path(request)
        if response is not None:
            return response
    return await general(request)


async def general(request: Request) -> Response:
    """``api.submit`` in the request's transaction, as FastAPI runs it (``deps.db``)."""
    async with deps.request_transaction(request) as session:
        actor = await deps.require_actor(await deps.optional_actor(request, session))
        return await api.submit(request, session, actor)


# The session (``resolve_session_with``) and the probe of service.submit
# (``_submit_probe_stmt``): the implementation, its published version and a
# case the account already filed with the key (the applicant's name is the
# session's person row). On PostgreSQL in one statement: one round trip
# fewer (web process −10 % CPU per submission, bench/inproc_submit.py). On
# SQLite, where a statement is a call in process, as two: the joined one
# cost ~60–100 µs more per submission there.
_PROBE_COLUMNS = """i.status, i.published_version_id, i.region_code, i.department_id, i.name, v.id,
    v.content_hash,
    (SELECT c.id FROM "case" c WHERE c.submitted_by = a.id AND c.idempotency_key = $2)"""
_PROBE_JOINS = """LEFT JOIN implementation i ON i.id = $3
    LEFT JOIN implementation_version v ON v.id = i.published_version_id"""
_SESSION_PROBE = session_statement(_PROBE_COLUMNS, _PROBE_JOINS)
_PROBE = RawStatement(
    f"SELECT {_PROBE_COLUMNS} FROM account a {_PROBE_JOINS} WHERE a.id = $1"  # noqa: S608 - constants
)


async def _session_and_probe(
    conn: Any, token: str, key: str, implementation_id: Any, settings: Any
) -> Any:
    """(actor, person row, the probe's columns) or None (no valid session)."""
    if not conn.is_sqlite:
        return await resolve_session_with(
            conn, token, _SESSION_PROBE, key, implementation_id, settings=settings
        )
    found = await resolve_session_raw(conn, token, settings=settings)
    if found is None:
        return None
    rows = await conn.fetch(_PROBE, found[0].account_id, key, implementation_id)
    return (*found, tuple(rows[0])) if rows else None


_VERSION = RawStatement("SELECT fields, form FROM implementation_version WHERE id = $1")


class _Handover(Exception):
    """Not the plain case after all: roll back and take the general path."""


async def _driver_path(request: Request) -> Response | None:
    """The submission on the driver connection, or None: not the plain case
    (nothing written; the general path answers)."""
    # what api.submit reads first, before any statement
    try:
        body = await api._submit_body(request)
    except AppError:
        return None
    key = (request.headers.get("idempotency-key") or "").strip()
    if (
        body.materials
        or body.enterprise_id is not None
        or body.applicant_person_id is not None
        or not 8 <= len(key) <= 80
        or body.channel not in lifecycle.CHANNELS
        or body.channel == "window"
    ):
        return None
    settings = request.app.state.settings
    async with deps.raw_connection(request) as conn:
        found = await _session_and_probe(
            conn, request.cookies[deps.SESSION_COOKIE], key, body.implementation_id, settings
        )
        if found is None:
            return None
        actor, person, probe = found
        if (
            actor.kind != "person"
            or actor.account_id is None
            or actor.person_id is None
            or person is None
        ):
            return None
        try:
            deps.check_csrf(request, actor.csrf_token)
        except AppError:
            return None
        (
            status,
            published,
            region,
            department_id,
            item_name,
            version_id,
            content_hash,
            existing,
        ) = probe
        if status != "published" or published is None or version_id is None or existing is not None:
            return None
        doc = service._VERSION_CACHE.get(content_hash)
        if doc is None:
            got = await conn.fetch(_VERSION, version_id)
            if len(service._VERSION_CACHE) >= service._VERSION_CACHE_MAX:
                service._VERSION_CACHE.clear()
            doc = service._VERSION_CACHE[content_hash] = (
                conn.json(got[0][0]),
                conn.json(got[0][1]),
            )
        fields, version_form = doc
        clean, errors = forms.validate_submission(
            version_form or forms.default_form(), body.form_data or {}
        )
        if errors:
            return None
        values = service.new_case_values(
            actor,
            await _calendar(request),
            fields,
            clean,
            implementation_id=body.implementation_id,
            version_id=version_id,
            department_id=department_id,
            region_code=region,
            item_name=item_name,
            person_id=actor.person_id,
            enterprise_id=None,
            applicant_name=person.name,
            channel=body.channel,
            key=key,
        )
        engine = request.app.state.engine.sync_engine
        try:
            if conn.is_sqlite:
                writer = await _sqlite_writer(engine) or conn._dbapi
                try:
                    async with write_transaction(writer) as raw:
                        case_id = service.write_sqlite(
                            raw.cursor(), engine.dialect, actor, values, [], {}
                        )
                        if case_id is None:
                            raise _Handover  # the submitter used the key meanwhile
                except (_Handover, AppError):
                    raise
                except BaseException:
                    if writer is not conn._dbapi:
                        await greenlet_spawn(_drop_sqlite_writer, engine)  # a fresh one next time
                    raise
            else:
                case_id = await _file_pg(conn.driver, engine.dialect, actor, values)
        except _Handover:
            return None
    request.state.actor = actor  # only now: the general path resolves (and checks) its own
    return ORJSONResponse(api.case_summary(SimpleNamespace(**values, id=case_id)), status_code=201)  # type: ignore[arg-type]


# --- SQLite: the submissions' writes on one connection of their own ---------------------
#
# In WAL mode a connection drops its whole page cache when it starts a
# transaction after another connection wrote. The pool hands each request
# whichever connection is free, so every submission's writes found a cold
# cache and read again, one pread each, the ~40 pages they change (the
# b-trees' root and interior pages, the right-hand leaves of the case, trail,
# audit and outbox tables and of their indexes): 58 preads per submission.
# The writes of this route are serialised by the database file's write lock
# anyway (``sqlite_inline.write_transaction``), so they all go through one
# connection held for them, whose cache the next submission finds warm (only
# other writers — the general path, other routes, the worker — make it cold
# again). The reads before (session, probe) stay on the pooled connection.

_writers: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


async def _sqlite_writer(engine: Any) -> Any | None:
    """The engine's submission writer (a pooled connection held for good,
    given back when the engine is disposed), or None from a second event loop
    (the file's write lock is per loop)."""
    loop = asyncio.get_running_loop()
    got = _writers.get(engine)
    if got is None:
        fairy = await greenlet_spawn(engine.raw_connection)
        if engine in _writers:  # another request got there first meanwhile
            await greenlet_spawn(fairy.close)
        else:
            _writers[engine] = (fairy, loop)
            if not event.contains(engine, "engine_disposed", _drop_sqlite_writer):
                event.listen(engine, "engine_disposed", _drop_sqlite_writer)
        got = _writers[engine]
    fairy, owner = got
    return fairy.dbapi_connection if owner is loop else None


def _drop_sqlite_writer(engine: Any) -> None:
    """Close the engine's writer (the engine disposed, or the writer failed:
    the next submission opens a fresh one)."""
    got = _writers.pop(engine, None)
    if got is not None:
        got[0].invalidate()


async def _calendar(request: Request) -> Any:
    """The working-day calendar (``workdays.load_calendar``'s minute-long cache,
    refreshed through a session when stale)."""
    cached = workdays._cached
    if cached and time.monotonic() - cached[0] < workdays.CACHE_SECONDS:
        return cached[1]
    async with request.app.state.sessionmaker() as session:
        return await workdays.load_calendar(session)


# --- PostgreSQL: service._file_pg's statements on the asyncpg connection ---------------


class _Compiled:
    """A Core statement compiled for the driver: its SQL, and per placeholder
    the parameter's name (or the statement's own constant) and SQLAlchemy's
    bind processor, so values are sent as SQLAlchemy would send them."""

    __slots__ = ("binds", "sql")

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        procs = compiled._bind_processors
        self.binds = [
            (name, compiled.params.get(name), procs.get(name))
            for name in compiled.positiontup or ()
        ]

    def args(self, params: dict[str, Any]) -> list[Any]:
        out = []
        for name, const, proc in self.binds:
            v = params.get(name, const)
            out.append(proc(v) if proc is not None else v)  # as SQLAlchemy: None included
        return out


_PG: dict[str, _Compiled] = {}


def _pg(dialect: Any, name: str) -> _Compiled:
    got = _PG.get(name)
    if got is None:
        if name == "delivery":
            t = OutboxDelivery.__table__
            stmt = pg_insert(t).values(
                {
                    c: bindparam(c, type_=t.c[c].type)
                    for c in (
                        "event_id",
                        "handler",
                        "status",
                        "attempts",
                        "available_at",
                        "region_code",
                    )
                }
            )
        else:
            stmt = service._stmt("postgresql", name)
        got = _PG[name] = _Compiled(stmt, dialect)
    return got


async def _file_pg(driver: Any, dialect: Any, actor: Any, values: dict[str, Any]) -> int:
    """The rows of ``service._file_pg`` on the asyncpg connection: one
    statement on its own (``service._pg_submit_stmt``: the hot rows of the
    region's lane locked only while PostgreSQL runs and commits it), or,
    when that does not apply — handlers subscribed to the events (their
    deliveries), a lane's first audit entry, the key used meanwhile: the
    statement fails and wrote nothing — the two statements of
    ``service._file_pg`` (the same lane) and the deliveries in a
    transaction. Returns the case id."""
    lane = service.next_lane()
    if not (handlers_for("case.submit") or handlers_for("case.notified")):
        from asyncpg.exceptions import NotNullViolationError

        submit = _pg(dialect, "pg_submit")
        try:
            row = await driver.fetchrow(
                submit.sql,
                *submit.args(service.pg_submit_params(actor, values, now(), lane=lane)),
            )
        except NotNullViolationError:
            row = None  # no head yet, or the key used: the transaction below sorts it out
        if row is not None:
            values["number"] = row[1]
            return int(row[0])
    async with driver.transaction():
        file = _pg(dialect, "pg_file")
        row = await driver.fetchrow(file.sql, *file.args(service.pg_file_params(values, lane=lane)))
        if row is None:
            raise _Handover  # the submitter used the key meanwhile
        case_id, number, seq, prev = row
        values["number"] = number
        now_ = now()
        record = _pg(dialect, "pg_record")
        events = await driver.fetch(
            record.sql,
            *record.args(
                service.pg_record_params(actor, values, case_id, seq, prev, {}, now_, lane=lane)
            ),
        )
        # as outbox.record_deliveries_sync (the column defaults written out)
        delivery = _pg(dialect, "delivery")
        rows = [
            delivery.args(
                {
                    "event_id": event_id,
                    "handler": reg.name,
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now_,
                    "region_code": values["region_code"],
                }
            )
            for event_id, name in events
            for reg in handlers_for(name)
        ]
        if rows:
            await driver.executemany(delivery.sql, rows)
    return int(case_id)


def hot_routes() -> list[Route]:
    return [Route("/api/v1/cases", submit, methods=["POST"], name="case_submit_hot")]
