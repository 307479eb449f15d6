"""Page rendering: Jinja2 templates from every domain, display preferences.

Display preferences (remembered per account, and in a cookie for visitors):
- ``script``: ``hans`` 简体 (default) or ``hant`` 繁體 — the whole rendered page
  is converted with OpenCC (``s2t``: characters only — ``s2twp`` would also swap
  mainland terms for Taiwan ones, turning 注销 into 登出), so templates
  and data are written once, in simplified Chinese;
- ``elderly``: 长者模式 — larger type, higher contrast, simpler navigation
  (the ``elderly`` class on <body> and templates that hide secondary links).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from tongban.core.clock import local
from tongban.core.errors import AppError

PKG = Path(__file__).resolve().parent.parent
PREF_COOKIE = "tongban_prefs"  # "e1.hant" style: elderly flag and script


@lru_cache(maxsize=1)
def environment() -> Environment:
    dirs = [
        PKG / "web" / "templates",
        *sorted(p for p in PKG.glob("*/templates") if p.parent.name != "web"),
    ]
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        autoescape=select_autoescape(["html"]),
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["localtime"] = lambda v, fmt="%Y-%m-%d %H:%M": local(v).strftime(fmt) if v else ""
    return env


@lru_cache(maxsize=2)
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_traditional(text: str) -> str:
    return _converter("s2t").convert(text)


# What a person may submit back stays as stored: input values and textarea
# contents are not converted, so editing a record with 繁體 display on never
# writes traditional characters into it (the labels around them are converted).
_EDITABLE = re.compile(r'(\svalue="[^"]*"|<textarea\b[^>]*>.*?</textarea>)', re.S | re.I)


def to_traditional_html(html: str) -> str:
    parts = _EDITABLE.split(html)
    for i in range(0, len(parts), 2):
        parts[i] = to_traditional(parts[i])
    return "".join(parts)


def preferences(request: Request) -> dict[str, Any]:
    """Account preferences when signed in, else the visitor's cookie."""
    actor = getattr(request.state, "actor", None)
    prefs: dict[str, Any] = {"elderly": False, "script": "hans"}
    raw = request.cookies.get(PREF_COOKIE, "")
    if raw:
        parts = raw.split(".")
        prefs["elderly"] = "e1" in parts
        prefs["script"] = "hant" if "hant" in parts else "hans"
    if actor is not None and actor.preferences:
        prefs.update({k: v for k, v in actor.preferences.items() if k in prefs})
    return prefs


def pref_cookie_value(prefs: dict[str, Any]) -> str:
    return (
        ("e1" if prefs.get("elderly") else "e0")
        + "."
        + ("hant" if prefs.get("script") == "hant" else "hans")
    )


def csrf_for(request: Request) -> str:
    actor = getattr(request.state, "actor", None)
    if actor is not None and actor.csrf_token:
        return actor.csrf_token
    return getattr(request.state, "anon_csrf", "") or request.cookies.get("tongban_csrf", "")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    prefs = preferences(request)
    ctx = {
        "request": request,
        "actor": getattr(request.state, "actor", None),
        "prefs": prefs,
        "csrf_token": csrf_for(request),
        "settings": request.app.state.settings,
        **(context or {}),
    }
    html = environment().get_template(template).render(ctx)
    if prefs["script"] == "hant":
        html = to_traditional_html(html)
    response = HTMLResponse(html, status_code=status)
    anon = getattr(request.state, "anon_csrf", None)
    if anon:
        response.set_cookie(
            "tongban_csrf",
            anon,
            httponly=True,
            samesite="lax",
            secure=request.app.state.settings.cookie_secure,
            path="/",
        )
    return response


async def render_error(request: Request, exc: AppError) -> HTMLResponse:
    """The error page, in the signed-in user's own display (a request that
    matched no route ran no dependency, so resolve the actor here)."""
    if "actor" not in request.state._state:
        request.state.actor = await _actor_for_error_page(request)
    if request.state.actor is None:
        from tongban.web.deps import ensure_anon_csrf

        ensure_anon_csrf(request)
    return render(request, "error.html", {"error": exc}, status=exc.status)


async def _actor_for_error_page(request: Request) -> Any:
    token = request.cookies.get("tongban_session")
    if not token:
        return None
    from tongban.identity.service import resolve_session

    try:
        async with request.app.state.sessionmaker() as session:
            actor = await resolve_session(session, token, settings=request.app.state.settings)
            await session.commit()
            return actor
    except Exception:  # an error page must render even when the database does not answer
        return None
