"""The ASGI application: one FastAPI app serving the JSON API and the pages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tongban.core import logging as tlog
from tongban.core.db import create_engine, make_sessionmaker, ping, wal_checkpointer
from tongban.core.errors import AppError, BadValue, Duplicate, InternalError, field_errors
from tongban.core.settings import Settings, get_settings
from tongban.web.nul import NulGuard, is_bad_value, is_duplicate

log = logging.getLogger("tongban.web")

REQUESTS = Counter("tongban_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "tongban_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

STATIC_DIR = Path(__file__).resolve().parent / "static"


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class RequestContextMiddleware:
    """Request id, one JSON access-log line, Prometheus metrics (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # prometheus_client's labels() takes a lock and validates on every
        # call; the children are cached per label values here.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:64]
                break
        rid = rid or os.urandom(8).hex()
        token = tlog.request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            counter = self._counters.get((method, path, status))
            if counter is None:
                counter = self._counters[(method, path, status)] = REQUESTS.labels(
                    method, path, str(status)
                )
            timer = self._timers.get((method, path))
            if timer is None:
                timer = self._timers[(method, path)] = LATENCY.labels(method, path)
            counter.inc()
            timer.observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": method,
                            "path": scope["path"],
                            "route": path,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                        }
                    },
                )
            tlog.request_id_var.reset(token)


class ErrorBoundary:
    """出错兜底: the one place an unexpected exception becomes a response.

    Just inside ``RequestContextMiddleware``, so the 500 carries the request's
    ``x-request-id`` (also in the body as ``request_id``, and on the error
    page as 错误编号: what a citizen quotes to the help desk) and is counted
    and access-logged like any other answer. The exception is logged once,
    with its traceback and request id, and then dropped: Starlette's own
    ``ServerErrorMiddleware`` would answer it without the request id and
    raise it again (uvicorn logs it a second time). ``propagate=True``
    (setting ``propagate_errors``: the test suite) raises a 500's exception
    after the answer is sent, so a test sees the real exception.

    A response already started cannot be replaced: the error is logged and
    raised, and the server drops the connection.
    """

    def __init__(self, app: ASGIApp, propagate: bool = False) -> None:
        self.app = app
        self.propagate = propagate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                log.exception("unhandled error after the response started")
                raise
            response = await answer_unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)
            if self.propagate and response.status_code >= 500:
                raise  # a refusal the request caused (422, 409) is an answer, not a failure


class HotRoutes:
    """Serves a few hot JSON API routes before FastAPI's own stack.

    Each is a plain Starlette ``Route`` (an ``async def endpoint(request) ->
    Response``): no dependency graph, no request validation, no response
    model, no router walk. Inside ``RequestContextMiddleware`` (request id,
    access log, metrics still apply); errors are answered as the app's
    handlers answer them under ``/api/``: an ``AppError`` as its
    ``{"code", "message"}`` JSON, a value the database refused as
    ``value_invalid``, anything else raised to ``ErrorBoundary`` (logged once,
    answered ``internal_error``). The FastAPI route of the same path stays registered
    (OpenAPI documents it; other methods still reach it). See
    docs/architecture.md, "Hot read paths".
    """

    def __init__(self, app: ASGIApp, routes: list[Route]) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Route] = {}
        for route in routes:
            if not route.path.startswith("/api/"):
                raise ValueError(f"hot routes answer JSON errors: {route.path} is not under /api/")
            for method in route.methods or ():
                if method != "HEAD":
                    self.routes[(method, route.path)] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self.routes.get((scope.get("method"), scope["path"]))
            if scope["type"] == "http"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        try:
            response = await route.endpoint(Request(scope, receive, send))
        except AppError as exc:
            response = ORJSONResponse(exc.to_dict(), status_code=exc.status)
        except Exception as e:
            if not is_bad_value(e):
                raise  # answered by ``ErrorBoundary``, as for any route
            log.warning("a value the database refused: %s", e)
            response = ORJSONResponse(BadValue().to_dict(), status_code=BadValue.status)
        await response(scope, receive, send)


def hot_routes() -> list[Route]:
    """The routes ``HotRoutes`` serves (imported here: the domains import this module)."""
    from tongban.core.errors import NotAuthenticated
    from tongban.identity import api as identity_api
    from tongban.identity import repository, service
    from tongban.identity.schemas import account_dict, agent_dict, enterprise_dict, person_dict
    from tongban.web.deps import SESSION_COOKIE, raw_connection

    async def my_records(request: Request) -> Response:
        """``GET /api/v1/me/records`` — the portal's hottest read — as
        ``identity.api.my_records`` answers it (same JSON, masking, errors),
        with its statements on the driver connection: the session, account
        and person in one, the enterprises and agents in another."""
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return await identity_api.my_records(request)  # an API client: the general path
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise NotAuthenticated()
        async with raw_connection(request) as conn:
            found = await service.resolve_session_raw(
                conn, token, settings=request.app.state.settings
            )
            if found is None:
                raise NotAuthenticated()
            actor, person = found
            recs = await repository.get_my_records_raw(conn, actor, person)
        request.state.actor = actor
        person = recs["person"]
        return ORJSONResponse(
            {
                "account": account_dict(actor),
                "person": person_dict(person, actor) if person else None,
                "enterprises": [enterprise_dict(e) for e in recs["enterprises"]],
                "agents": [agent_dict(a) for a in recs["agents"]],
            }
        )

    from tongban.cases import submit_hot, worklist_hot
    from tongban.licences import api as licences_api
    from tongban.search import api as search_api

    return [
        Route("/api/v1/me/records", my_records, methods=["GET"], name="my_records_hot"),
        *licences_api.hot_routes(),
        *worklist_hot.hot_routes(),
        *submit_hot.hot_routes(),
        *search_api.hot_routes(),
    ]


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


async def answer_error(request: Request, exc: AppError) -> Response:
    """An ``AppError`` as JSON (``{"code", "message"}``) or as the error page."""
    from tongban.web.render import render_error

    if _wants_json(request):
        return ORJSONResponse(exc.to_dict(), status_code=exc.status)
    return await render_error(request, exc)


async def answer_refusal(request: Request, exc: BaseException) -> Response | None:
    """A database error the request caused, answered as such: a value no
    column holds (422 ``value_invalid``), a row created twice at the same
    moment (409 ``duplicate``). None for any other error."""
    if is_bad_value(exc):
        log.warning("a value the database refused: %s", exc)
        return await answer_error(request, BadValue())
    if is_duplicate(exc):
        log.warning("a row created twice at once: %s", exc)
        return await answer_error(request, Duplicate())
    return None


async def answer_unexpected(request: Request, exc: Exception) -> Response:
    """Any other exception: a refusal the request caused (``answer_refusal``),
    or else logged with its traceback and answered 500 ``internal_error`` with
    the request id, never its text."""
    refused = await answer_refusal(request, exc)
    if refused is not None:
        return refused
    log.exception("unhandled error")
    return await answer_error(request, InternalError(tlog.request_id_var.get()))


def install_error_handlers(app: FastAPI) -> None:
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        err = AppError(
            "提交的内容不符合要求，请检查后重新提交",
            code="validation_failed",
            status=422,
            details=field_errors(exc.errors()),
        )
        return await answer_error(request, err)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            400: ("bad_request", "提交的内容无法解析，请检查格式后重新提交"),
            404: ("not_found", "页面或记录不存在"),
            405: ("method_not_allowed", "不支持该请求方式"),
            401: ("not_authenticated", "请先登录"),
            403: ("permission_denied", "您没有执行此操作的权限"),
            413: ("too_large", "提交的内容过大"),
        }
        code, msg = messages.get(
            exc.status_code, ("http_error", str(exc.detail) if exc.detail else "请求无法处理")
        )
        return await answer_error(request, AppError(msg, code=code, status=exc.status_code))

    async def refused_value(request: Request, exc: Exception) -> Response:
        # Registered for the driver's exception classes so that a refused
        # value is answered inside the app (``ExceptionMiddleware``); any
        # other database error goes on to ``ErrorBoundary``: a real 500.
        refused = await answer_refusal(request, exc)
        if refused is None:
            raise exc
        return refused

    app.add_exception_handler(AppError, answer_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(OverflowError, refused_value)
    app.add_exception_handler(DBAPIError, refused_value)
    # No handler of ``Exception``: Starlette would run it from
    # ``ServerErrorMiddleware``, outside the request context, and raise again.
    # ``ErrorBoundary`` answers those.


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    tlog.configure(settings.log_level, json=settings.log_json)
    # Deliveries are created from the handler registry of the process that
    # records an event: the web process must know every handler.
    from tongban.core.worker import autodiscover

    autodiscover()
    from tongban.licences import config as licences_config

    licences_config.configure(settings)  # the seal key store under this deployment's key

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, background_checkpoint=True)
        checkpointer = wal_checkpointer(engine)
        if checkpointer is not None:
            checkpointer.start()
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.secret_key = settings.resolved_secret_key()
        worker_task = None
        if settings.embedded_worker:
            from tongban.core.worker import run_worker

            app.state.worker_stop = asyncio.Event()
            worker_task = asyncio.create_task(
                run_worker(
                    app.state.sessionmaker, settings, stop=app.state.worker_stop, embedded=True
                )
            )
        # The start-up heap (modules, table metadata, compiled validators:
        # ~200,000 objects) out of the cyclic collector's passes. A full pass
        # walks every tracked object and stops the event loop meanwhile: 50–100
        # ms every few seconds under load, for every request in flight (the
        # submit benchmark's p99). Objects made later are collected as before;
        # the shutdown gives the frozen ones back (tests start many apps).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if worker_task is not None:
                app.state.worker_stop.set()
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(worker_task, timeout=10)
            from tongban.licences import verifylog

            await verifylog.close_all()  # batched verification log rows still in memory
            await engine.dispose()
            if checkpointer is not None:
                await asyncio.to_thread(checkpointer.stop)

    app = FastAPI(
        title="通办 tongban API",
        version="0.1.0",
        description="一体化在线政务服务平台接口。错误统一返回 `{code, message}`。",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(HotRoutes, routes=hot_routes())  # inside RequestContextMiddleware
    app.add_middleware(NulGuard)  # before the hot routes: they read raw values too
    app.add_middleware(ErrorBoundary, propagate=settings.propagate_errors)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/healthz", tags=["运维"], summary="健康检查")
    async def healthz(request: Request) -> Response:
        try:
            await ping(request.app.state.engine)
        except Exception:
            log.exception("health check: database unreachable")
            return ORJSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return ORJSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", tags=["运维"], summary="Prometheus 指标", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    from tongban.admin import pages as admin_pages
    from tongban.identity import api as identity_api
    from tongban.identity import pages as identity_pages
    from tongban.regions import api as regions_api
    from tongban.search import api as search_api
    from tongban.web import pages as web_pages

    # First: the search box is the hottest public read, and routes are matched in order.
    app.include_router(search_api.router, prefix="/api/v1")
    app.include_router(identity_api.router, prefix="/api/v1")
    app.include_router(regions_api.router, prefix="/api/v1")
    from tongban.cases import api as cases_api

    app.include_router(cases_api.router, prefix="/api/v1")
    from tongban.cases import uploads as cases_uploads

    app.include_router(cases_uploads.router, prefix="/api/v1")
    from tongban.cases import hooks as cases_hooks
    from tongban.cases import pages as cases_pages

    cases_hooks.install()  # the online entry (/apply/{id}) files cases
    app.include_router(
        cases_pages.router
    )  # before web_pages: /workbench/supervision is the real page now
    app.include_router(identity_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(web_pages.router)
    from tongban.catalogue import guide_pages

    app.include_router(guide_pages.router)
    from tongban.catalogue import admin_pages as catalogue_admin_pages
    from tongban.catalogue import api as catalogue_api
    from tongban.catalogue import apply_pages

    app.include_router(catalogue_api.router, prefix="/api/v1")
    app.include_router(catalogue_admin_pages.router)
    app.include_router(apply_pages.router)
    from tongban.catalogue import report_pages as catalogue_reports

    app.include_router(catalogue_reports.api_router, prefix="/api/v1")
    app.include_router(catalogue_reports.router)
    from tongban.search import pages as search_pages

    app.include_router(search_pages.router)
    from tongban.licences import api as licences_api
    from tongban.licences import pages as licences_pages

    app.include_router(licences_api.router, prefix="/api/v1")
    app.include_router(licences_pages.router)
    from tongban.licences import reuse as licences_reuse
    from tongban.licences import wallet_api, wallet_pages

    app.include_router(wallet_api.router, prefix="/api/v1")  # 我的证照, 用证授权, 证照汇聚
    app.include_router(wallet_pages.router)
    licences_reuse.install()  # 免证办: wraps the online entry's submit hook (after cases_hooks.install)

    if STATIC_DIR.exists():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
