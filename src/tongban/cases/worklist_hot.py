"""The worklist reads on the hot route (``web.app.HotRoutes``).

``GET /api/v1/cases`` and ``GET /api/v1/cases/queues`` — every workbench
page, polled by every clerk — answered as ``cases.api.list_cases`` and
``queue_counts`` answer them (same JSON, same errors, same order of checks),
with their statements on the driver connection of a pooled connection
(``web.deps.raw_connection``), as ``GET /api/v1/me/records`` is: the session
(``identity.service.resolve_session_raw``), then the page or the counts.

The statements are the API's (``api._list_statement``, ``api._count_statement``:
prebuilt per scope, queue, filters and page size, the statement's own
constants rendered into the SQL), compiled once more for the driver: the SQL
text and, per placeholder, the request's value to bind or the statement's own
constant. The rows come back as the driver gives them and are rendered as
``api.case_summary`` renders a case (datetimes as aware UTC ISO strings).

An API client (``Authorization: Bearer``) takes the general path
(``api.list_cases``; token resolution through the ORM session).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.sql import visitors
from starlette.requests import Request
from starlette.routing import Route

from tongban.cases import api
from tongban.core.errors import NotAuthenticated
from tongban.core.sqlite_inline import bind_datetime, read_datetime
from tongban.identity.service import resolve_session_raw
from tongban.web.app import ORJSONResponse
from tongban.web.deps import SESSION_COOKIE, raw_connection

_UTC = dt.UTC


class _Compiled:
    """A statement as the driver runs it: its SQL and, per placeholder in
    order, the request parameter's name (``None``: the constant in ``const``)."""

    __slots__ = ("const", "names", "sql")

    def __init__(self, stmt: Any, dialect: Any) -> None:
        def optional(bind: Any) -> None:
            if bind.key in api._USER_VALUES:
                bind.required = False  # bound per request; compiled without a value

        stmt = visitors.cloned_traverse(stmt, {}, {"bindparam": optional})
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = str(compiled)
        order = compiled.positiontup or []
        self.names = tuple(n if n in api._USER_VALUES else None for n in order)
        self.const = tuple(None if n in api._USER_VALUES else compiled.params[n] for n in order)


# Keyed by the API's statement object (itself cached per scope and shape).
_COMPILED: dict[int, tuple[Any, _Compiled]] = {}


def _compiled(stmt: Any, dialect: Any) -> _Compiled:
    got = _COMPILED.get(id(stmt))
    if got is None or got[0] is not stmt:  # the statement object is kept: its id stays its own
        if len(_COMPILED) >= api._STATEMENTS_MAX * 2:
            _COMPILED.clear()
        got = _COMPILED[id(stmt)] = (stmt, _Compiled(stmt, dialect))
    return got[1]


async def _fetch(conn: Any, c: _Compiled, params: dict[str, Any]) -> list[Any]:
    if conn.is_sqlite:
        args = [
            (bind_datetime(v) if isinstance(v := params[n], dt.datetime) else v)
            if n is not None
            else k
            for n, k in zip(c.names, c.const, strict=True)
        ]
        return conn.driver.execute(c.sql, args).fetchall()
    args = [params[n] if n is not None else k for n, k in zip(c.names, c.const, strict=True)]
    return await conn.driver.fetch(c.sql, *args)


def _iso_sqlite(v: str | None) -> str | None:
    """A stored datetime (naive UTC text, ``YYYY-MM-DD HH:MM:SS.ffffff``) as
    ``_iso(UTCDateTime's value)`` renders it; anything else the long way."""
    if v is None:
        return None
    if len(v) == 26 and v[10] == " " and v[19] == ".":
        if v.endswith(".000000"):  # isoformat() leaves out a zero microsecond
            return v[:10] + "T" + v[11:19] + "+00:00"
        return v[:10] + "T" + v[11:] + "+00:00"
    return read_datetime(v).isoformat()


def _iso_pg(v: dt.datetime | None) -> str | None:
    if v is None:
        return None
    return (v if v.tzinfo is _UTC else v.astimezone(_UTC)).isoformat()


def _bearer(request: Request) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


async def _actor(request: Request, conn: Any) -> Any:
    """The session's actor, as ``web.deps.read_actor`` resolves a cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    found = (
        await resolve_session_raw(conn, token, settings=request.app.state.settings)
        if token
        else None
    )
    if found is None:
        raise NotAuthenticated()
    request.state.actor = actor = found[0]
    return actor


async def list_cases(request: Request) -> ORJSONResponse:
    """``GET /api/v1/cases`` as ``api.list_cases``."""
    if _bearer(request):
        return await api.list_cases(request)
    f = api.case_filters(request)
    async with raw_connection(request) as conn:
        actor = await _actor(request, conn)
        names, params = api.page_parameters(f)
        stmt = api._list_statement(
            request.app.state.engine.dialect.name,
            actor,
            f.queue or None,
            names,
            f.state or None,
            f.limit,
        )
        rows = await _fetch(conn, _compiled(stmt, request.app.state.engine.dialect), params)
    limit = f.limit
    iso = _iso_sqlite if conn.is_sqlite else _iso_pg
    return ORJSONResponse(
        {
            "items": [api._row_summary(r, iso) for r in rows[:limit]],
            "next": rows[limit - 1][0] if len(rows) > limit else None,
        }
    )


async def queue_counts(request: Request) -> ORJSONResponse:
    """``GET /api/v1/cases/queues`` as ``api.queue_counts``."""
    if _bearer(request):
        return await api.queue_counts(request)
    async with raw_connection(request) as conn:
        actor = await _actor(request, conn)
        dialect = request.app.state.engine.dialect
        row = (
            await _fetch(conn, _compiled(api._count_statement(actor, dialect.name), dialect), {})
        )[0]
    return ORJSONResponse(
        {
            key: {"label": label, "count": n}
            for (key, (label, _c)), n in zip(api.QUEUES.items(), row, strict=True)
        }
    )


def hot_routes() -> list[Route]:
    return [
        Route("/api/v1/cases", list_cases, methods=["GET"], name="cases_list_hot"),
        Route("/api/v1/cases/queues", queue_counts, methods=["GET"], name="cases_queues_hot"),
    ]
