"""Values no column can hold: refused with a clear error, never a 500.

空字符 (NUL, U+0000) in a request: refused before any route sees it.

No name, number, address or answer holds a NUL, and PostgreSQL refuses one in
``text`` and ``jsonb`` (a database error, a 500), while SQLite stores it.
So one guard, in front of every route (hot routes included), answers a
request that carries one with 422 ``invalid_character`` and runs nothing:

- the path and the query string, raw (``%00``) or decoded;
- a JSON body (``\\u0000`` in a string, its backslash not itself escaped) and
  a urlencoded form body (``%00``).

Multipart bodies (uploads) are binary and pass: their text fields are short
form fields that a page checks like any other value; file contents are
stored as bytes.

数值超出范围: an id or number beyond what the column holds (an integer past
64 bits, ``99999999999999999999``) is parsed by FastAPI as a Python int and
refused by the driver (SQLite's ``OverflowError``, asyncpg's ``DataError``:
a data exception, SQLSTATE class 22). ``is_bad_value`` recognises those; the
app's handlers answer them 422 ``value_invalid`` (``core.errors.BadValue``) — the
transaction is rolled back as for any error — instead of ``internal_error``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tongban.core.errors import AppError, BadValue, InvalidCharacter, ValidationFailed

# an escaped NUL: \u0000 preceded by an even number of backslashes
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_BODY_TYPES = (b"application/json", b"application/x-www-form-urlencoded")


def is_bad_value(exc: BaseException) -> bool:
    """The error, or what caused it, is the driver refusing a value: an
    integer out of the column's range, or another data exception."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 6:
        if isinstance(e, OverflowError):
            return True
        if type(e).__module__.startswith("asyncpg") and _is_asyncpg_data_error(e):
            return True
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
        seen += 1
    return False


def is_duplicate(exc: BaseException) -> bool:
    """The error, or what caused it, is a unique constraint refusing a row:
    two requests created the same thing at once (each checked first, neither
    saw the other). Answered 409 ``duplicate``: the transaction is rolled back,
    the first one's row stands."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 6:
        if type(e).__module__.startswith("asyncpg"):
            from asyncpg.exceptions import UniqueViolationError

            if isinstance(e, UniqueViolationError):
                return True
        if type(e).__name__ == "IntegrityError" and "UNIQUE constraint failed" in str(e):
            return True  # sqlite3
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
        seen += 1
    return False


def _is_asyncpg_data_error(e: BaseException) -> bool:
    from asyncpg.exceptions import DataError

    return isinstance(e, DataError)


# What makes a JSON body worth decoding here (rare in real requests): an escaped
# surrogate (a lone one cannot be stored, rendered or signed as UTF-8), a run of
# 19+ digits (maybe an integer past 64 bits, which orjson cannot answer with) or
# much nesting (the recursive walks of free-form JSON would hit Python's limit),
# NaN / Infinity or an exponent of three digits (1e309 is read as infinity): not
# JSON numbers — PostgreSQL's json refuses them, SQLite would store them.
_JSON_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|[0-9]{19}|NaN|Infinity|[eE][+-]?[0-9]{3}")
MAX_JSON_DEPTH = 64
_INT64 = 2**63


def json_body_problem(body: bytes) -> AppError | None:
    """A JSON body's value no column, signature or response can hold: a lone
    surrogate, an integer past 64 bits, NaN or an infinite number, nesting
    deeper than ``MAX_JSON_DEPTH``.
    Decodes only bodies that look suspicious; an undecodable body is left to
    FastAPI (which answers it 4xx)."""
    if not _JSON_SUSPECT.search(body) and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return InvalidCharacter(
                    "提交的内容含有无效字符（不成对的代理码元），请检查后重新提交"
                )
        elif isinstance(v, bool):
            continue
        elif isinstance(v, float):
            if not math.isfinite(v):
                return ValidationFailed(
                    "提交的数值无效（NaN、Infinity 或超出范围），请检查后重新提交",
                    code="number_invalid",
                )
        elif isinstance(v, int):
            if not -_INT64 <= v < _INT64:
                return BadValue()
        elif isinstance(v, dict | list):
            if depth > MAX_JSON_DEPTH:
                return ValidationFailed("提交的内容层级过深，请检查后重新提交", code="too_deep")
            items = v.items() if isinstance(v, dict) else ((None, x) for x in v)
            for k, x in items:
                if k is not None:
                    stack.append((k, depth))
                stack.append((x, depth + 1))
    return None


def target_has_nul(scope: Scope) -> bool:
    """The path or query string names a NUL, raw or percent-encoded."""
    qs: bytes = scope.get("query_string", b"")
    if b"%00" in qs or b"\x00" in qs:
        return True
    raw = scope.get("raw_path") or b""
    return b"%00" in raw or b"\x00" in raw or "\x00" in scope.get("path", "")


def body_has_nul(content_type: bytes, body: bytes) -> bool:
    """A JSON or urlencoded body that decodes to a string holding a NUL."""
    if b"\x00" in body:
        return True
    if content_type.startswith(b"application/json"):
        return b"\\u0000" in body and _JSON_NUL.search(body) is not None
    return b"%00" in body


class NulGuard:
    """ASGI middleware: a request carrying a NUL is answered 422 at once (JSON
    under ``/api/``, the error page otherwise), before the hot routes and
    FastAPI. A checked body is handed on whole, as it arrived."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if target_has_nul(scope):
            await _refuse(scope, receive, send)
            return
        content_type = b""
        for k, v in scope["headers"]:
            if k == b"content-type":
                content_type = v.lower()
                break
        if not content_type.startswith(_BODY_TYPES):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: hand that on
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body_has_nul(content_type, body):
            await _refuse(scope, _replay([], receive), send)
            return
        if content_type.startswith(b"application/json"):
            problem = json_body_problem(body)
            if problem is not None:
                await _refuse(scope, _replay([], receive), send, problem)
                return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: AppError | None = None) -> None:
    from tongban.web.app import ORJSONResponse, _wants_json
    from tongban.web.render import render_error

    request = Request(scope, receive, send)
    exc = exc or InvalidCharacter()
    if _wants_json(request):
        response = ORJSONResponse(exc.to_dict(), status_code=exc.status)
    else:
        response = await render_error(request, exc)
    await response(scope, receive, send)
