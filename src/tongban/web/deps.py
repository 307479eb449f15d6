"""Request dependencies: the transaction, the actor, CSRF.

The transaction ends here, at the edge: ``db`` yields a session, commits when
the endpoint returned normally and rolls back when it raised.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.util import greenlet_spawn

from tongban.core.errors import AppError, NotAuthenticated, PermissionDenied
from tongban.identity.access import Actor
from tongban.identity.repository import RawConnection
from tongban.identity.service import resolve_bearer, resolve_session, resolve_session_on

SESSION_COOKIE = "tongban_session"
CSRF_COOKIE = "tongban_csrf"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@asynccontextmanager
async def request_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session and transaction: committed when the block ends,
    also when it raises an ``AppError`` that persists (a locked account's
    failure count), rolled back otherwise. What ``DB`` gives an endpoint;
    hot routes (``web.app.HotRoutes``) that need a session use it directly."""
    session: AsyncSession = request.app.state.sessionmaker()
    try:
        yield session
        await session.commit()
    except AppError as e:
        if e.persist:
            await session.commit()
        else:
            await session.rollback()
        raise
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


async def db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request_transaction(request) as session:
        yield session


# scope="function": the dependency exits (commits) when the endpoint returns,
# BEFORE the response is sent — an acknowledged write is a committed write.
# FastAPI's default ("request") would commit only after the response went out.
DB = Annotated[AsyncSession, Depends(db, scope="function")]


async def optional_actor(request: Request, session: DB) -> Actor | None:
    """The signed-in account (cookie session) or API client (bearer token)."""
    if "actor" in request.state._state:
        return request.state.actor
    actor: Actor | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        actor = await resolve_bearer(session, auth[7:].strip())
        if actor is None:
            raise AppError("访问令牌无效或已过期", code="invalid_token", status=401)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            actor = await resolve_session(session, token, settings=request.app.state.settings)
    request.state.actor = actor
    if actor is not None and request.method in UNSAFE and actor.via == "session":
        check_csrf(request, actor.csrf_token)
    return actor


def same_token(sent: str, expected: str) -> bool:
    """Constant-time equality that also takes non-ASCII text (a header, form
    field or cookie a client made up): ``secrets.compare_digest`` raises
    ``TypeError`` on non-ASCII ``str``, so both sides are compared as UTF-8."""
    return secrets.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def check_csrf(request: Request, expected: str) -> None:
    """Cookie-authenticated writes must prove they come from our own pages.

    - PUT, PATCH and DELETE pass, and so do ``application/json`` bodies: a
      browser cannot send either cross-site without a CORS preflight, and this
      platform grants none (only GET/HEAD/POST with form types are "simple");
    - an ``X-CSRF-Token`` header (htmx sends it) must equal the session's token;
    - page forms (urlencoded/multipart, outside ``/api/``) carry the token in a
      field, checked by ``verified_form`` — every page POST route uses it
      (a test walks the routes to keep it so);
    - anything else is refused.
    """
    ctype = request.headers.get("content-type", "")
    if request.method != "POST" or ctype.startswith("application/json"):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is not None:
        if not expected or not same_token(sent, expected):
            raise AppError("页面已过期，请刷新后重试", code="csrf_failed", status=403)
        return
    if not request.url.path.startswith("/api/") and ctype.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return
    raise AppError("请求缺少安全校验信息，请刷新页面后重试", code="csrf_failed", status=403)


async def read_actor(request: Request, conn: AsyncConnection) -> Actor:
    """The signed-in actor for a read-only hot path that works on a plain
    connection (GET only: no CSRF to check). Raises NotAuthenticated."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        async with request.app.state.sessionmaker(bind=conn) as session:
            actor = await resolve_bearer(session, auth[7:].strip())
            await session.flush()
        if actor is None:
            raise AppError("访问令牌无效或已过期", code="invalid_token", status=401)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        actor = (
            await resolve_session_on(conn, token, settings=request.app.state.settings)
            if token
            else None
        )
    if actor is None:
        raise NotAuthenticated()
    request.state.actor = actor
    return actor


@asynccontextmanager
async def raw_connection(request: Request) -> AsyncIterator[RawConnection]:
    """A pooled connection of the app's engine, as its driver connection (hot
    read paths: ``repository.RawConnection``).

    Checked out and returned through the engine's pool like any other, but
    without SQLAlchemy's greenlet bridge when the pool needs no IO: creating a
    greenlet costs 12–18 µs on this machine, and ``AsyncEngine.raw_connection``
    plus the close cost ~90 µs per request where the pool's own work is ~14 µs.
    The checkout runs directly and falls back to the bridge when the pool
    must connect or wait (``MissingGreenlet``: raised before any IO, the pool
    stays consistent). The return is direct on SQLite (the inline driver's
    rollback-on-return is a local call) and bridged on PostgreSQL. A
    connection that saw an error on the way (a lost server, a cancelled
    statement) is discarded, not reused.
    """
    engine = request.app.state.engine.sync_engine
    fairy = None
    if engine.dialect.name == "sqlite" and engine.pool.checkedin():
        try:
            fairy = engine.raw_connection()
        except MissingGreenlet:
            fairy = None
    if fairy is None:
        fairy = await greenlet_spawn(engine.raw_connection)
    conn = RawConnection(fairy.dbapi_connection)
    try:
        yield conn
    except AppError:
        raise  # a refusal, not a fault of the connection
    except BaseException:
        await greenlet_spawn(fairy.invalidate)
        raise
    finally:
        if conn.is_sqlite and fairy.is_valid:
            fairy.close()
        else:
            await greenlet_spawn(fairy.close)


async def require_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise NotAuthenticated()
    return actor


CurrentActor = Annotated[Actor, Depends(require_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def require_roles(*roles: str):
    async def dep(actor: CurrentActor) -> Actor:
        if not actor.has_any_role(*roles):
            raise PermissionDenied()
        return actor

    return Depends(dep)


def require_scope(scope: str):
    async def dep(actor: CurrentActor) -> Actor:
        if actor.via == "token" and scope not in actor.scopes:
            raise PermissionDenied(f"访问令牌缺少权限范围：{scope}", code="missing_scope")
        return actor

    return Depends(dep)


async def verified_form(request: Request, actor: OptionalActor) -> dict[str, str]:
    """The submitted form, after checking its CSRF token.

    Signed-in: the token must equal the session's. Visitors (the sign-in form):
    double-submit — the field must equal the ``tongban_csrf`` cookie set when
    the form was rendered.
    """
    form = await request.form()
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    expected = (
        actor.csrf_token
        if actor is not None and actor.via == "session"
        else request.cookies.get(CSRF_COOKIE, "")
    )
    if not expected or not sent or not same_token(sent, expected):
        raise AppError("页面已过期，请刷新页面后重新提交", code="csrf_failed", status=403)
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


VerifiedForm = Annotated[dict[str, str], Depends(verified_form)]


def ensure_anon_csrf(request: Request) -> str:
    """Give a visitor a CSRF token (set as a cookie by ``render``)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.anon_csrf = token
    return token
