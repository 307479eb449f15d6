"""网上申报 — the online entry the guide links to: ``/apply/{impl_id}``.

A signed-in applicant (a person account) fills the application form of the
implementation's *published* version, prefilled from their verified identity
(and from the enterprise they act for), rendered by the same Jinja macro the
form editor's preview uses (``catalogue/apply_form_macro.html``). A POST is
validated by ``forms.validate_submission`` — the one validator — and shown
again with a message beside each field in error.

Filing the application as a case (办件) belongs to the cases module (issue 4),
which plugs in here with ``register_submit_hook``: given the validated
``Application`` it creates the case (idempotently, by ``idempotency_key``) and
returns where to send the applicant. Until a hook is registered, a valid POST
shows the checked data and says plainly that nothing was filed.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.catalogue import access, forms, repository
from tongban.catalogue.models import Implementation, ImplementationVersion
from tongban.catalogue.schemas import has_nul
from tongban.core.errors import AppError, PermissionDenied, ValidationFailed
from tongban.identity.access import Actor
from tongban.web.deps import DB, OptionalActor, VerifiedForm
from tongban.web.pages import page, safe_next, settle

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=access.MAX_ID)]

# Inputs of the page that are not fields of the form. Field names start with a
# lower-case letter (forms._NAME_RE), so these can never collide with one.
AS_KEY = "_as"
KEY_KEY = "_key"
CONTROL_KEYS = frozenset({"csrf_token", AS_KEY, KEY_KEY})
# Material upload slots the cases module adds to the form (``cases/_apply_materials.html``):
# ``_mat.<n>`` carries what was uploaded for the n-th material, ``_file.<n>`` the file input.
MATERIAL_PREFIX = "_mat."
PAGE_PREFIXES = (MATERIAL_PREFIX, "_file.")


@dataclass(frozen=True, slots=True)
class Application:
    """A validated online application, ready to be filed as a case (办件)."""

    implementation_id: int
    version_id: int  # the published ImplementationVersion validated against: the case keeps it
    applicant: Actor  # the signed-in person
    enterprise_id: int | None  # the enterprise applied for (legal representative or agent), if any
    data: dict[str, Any]  # clean data (hidden conditional fields dropped, identity fields enforced)
    idempotency_key: str  # one per rendered form: a retried POST must file one case
    channel: str = "pc"  # cases.lifecycle.CHANNELS: pc | mobile
    materials: dict[str, str] = field(default_factory=dict)  # ``_mat.<n>`` inputs, by <n>


SubmitHook = Callable[[AsyncSession, Application], Awaitable[str]]
_submit_hook: SubmitHook | None = None


def register_submit_hook(hook: SubmitHook | None) -> None:
    """Install what files a validated application (the cases module calls this at
    import; ``None`` removes it). The hook runs in the request's transaction,
    returns the local path to send the applicant to (the new case's page), and
    raises ``AppError`` to refuse — its message is shown on the form."""
    global _submit_hook
    _submit_hook = hook


def submit_hook() -> SubmitHook | None:
    return _submit_hook


def is_online(fields: dict[str, Any]) -> bool:
    """The implementation takes applications online (the guide's rule, too)."""
    return (
        bool({"2", "3"} & set(fields.get("handling_forms", [])))
        and int(fields.get("online_depth", 1)) >= 2
    )


def _login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(safe_next(path), safe='')}", status_code=303)


def _require_person(actor: Actor) -> None:
    if actor.kind != "person":
        raise PermissionDenied(
            "网上申报供个人用户登录后使用；工作人员代为申报请使用综合窗口受理",
            code="applicants_only",
        )


def _parse_as(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdecimal() or not 1 <= int(value) <= access.MAX_ID:
        raise ValidationFailed("所选企业无效", code="invalid_enterprise")
    return int(value)


class _Context:
    """What the page needs about the implementation, its form and the applicant."""

    def __init__(
        self,
        impl: Implementation,
        version: ImplementationVersion,
        form: dict[str, Any],
        values: dict[str, Any],
        enterprise: Any,
        enterprises: list[Any],
    ) -> None:
        self.impl, self.version, self.form = impl, version, form
        self.values, self.enterprise, self.enterprises = values, enterprise, enterprises
        self.locked = forms.locked_fields(form, values)


async def _context(session: DB, actor: Actor, impl_id: int, enterprise_id: int | None) -> _Context:
    impl, version, form = await repository.get_published_form(session, actor, impl_id)
    if not impl.for_enterprises:
        enterprise_id = None  # a service for persons only: nobody applies for an enterprise
    values, enterprise = await repository.get_prefill_values(
        session, actor, enterprise_id=enterprise_id
    )
    enterprises = await repository.get_enterprises_for(session, actor)
    return _Context(impl, version, form, values, enterprise, enterprises)


def _render(
    request: Request,
    c: _Context,
    *,
    values: dict[str, Any],
    errors: list[dict[str, str]] | None = None,
    key: str | None = None,
    error: str = "",
    status: int = 200,
    uploaded: dict[str, str] | None = None,
) -> HTMLResponse:
    errors = errors or []
    return page(
        request,
        "catalogue/apply_form.html",
        {
            "impl": c.impl,
            "version": c.version,
            "fields": c.version.fields,
            "local": c.version.local,
            "sections": forms.layout(c.form, values, errors, locked=set(c.locked)),
            "other_errors": forms.unplaced_errors(c.form, errors),
            "error_count": len(errors),
            "enterprise": c.enterprise,
            "enterprises": c.enterprises,
            "as_key": AS_KEY,
            "key_key": KEY_KEY,
            "idempotency_key": key or secrets.token_urlsafe(18),
            "error": error,
            "locked_count": len(c.locked),
            "nav": "",
            "uploaded": uploaded or {},
        },
        status=status,
    )


def _unavailable(request: Request, c: _Context, *, reason: str, status: int = 200) -> HTMLResponse:
    external = c.version.fields.get("online_url", "")
    return page(
        request,
        "catalogue/apply_unavailable.html",
        {
            "impl": c.impl,
            "reason": reason,
            "local": c.version.local,
            "external_url": external if str(external).startswith(("https://", "http://")) else "",
            "enterprises": c.enterprises,
            "as_key": AS_KEY,
        },
        status=status,
    )


def _gate(request: Request, c: _Context) -> HTMLResponse | None:
    """A page instead of the form: not online, or an enterprise to choose."""
    if not is_online(c.version.fields):
        return _unavailable(request, c, reason="offline")
    if c.enterprise is None and c.impl.for_enterprises and not c.impl.for_persons:
        return _unavailable(
            request, c, reason="choose_enterprise" if c.enterprises else "no_enterprise"
        )
    return None


@router.get("/apply/{impl_id}", response_class=HTMLResponse)
async def apply_form(
    impl_id: Id,
    request: Request,
    actor: OptionalActor,
    session: DB,
    as_: Annotated[str | None, Query(alias="_as", max_length=20)] = None,
) -> Response:
    if actor is None:
        return _login_redirect(request)
    _require_person(actor)
    c = await _context(session, actor, impl_id, _parse_as(as_))
    gate = _gate(request, c)
    if gate is not None:
        return gate
    values = {**forms.prefill(c.form, c.values), **c.locked}
    return _render(request, c, values=values)


@router.post("/apply/{impl_id}", response_class=HTMLResponse)
async def apply_submit(
    impl_id: Id, request: Request, form: VerifiedForm, actor: OptionalActor, session: DB
) -> Response:
    if actor is None:
        return _login_redirect(request)
    _require_person(actor)
    if has_nul(form):
        raise ValidationFailed("提交的内容包含不允许的控制字符")
    c = await _context(session, actor, impl_id, _parse_as(form.get(AS_KEY)))
    gate = _gate(request, c)
    if gate is not None:
        return gate
    key = form.get(KEY_KEY, "")[:64] or secrets.token_urlsafe(18)
    raw = {
        k: v for k, v in form.items() if k not in CONTROL_KEYS and not k.startswith(PAGE_PREFIXES)
    }
    materials = {
        k[len(MATERIAL_PREFIX) :]: v for k, v in form.items() if k.startswith(MATERIAL_PREFIX) and v
    }
    data = {**forms.from_html(c.form, raw), **c.locked}
    clean, errors = forms.validate_submission(c.form, data)
    if errors:
        return _render(
            request, c, values=data, errors=errors, key=key, status=422, uploaded=materials
        )
    application = Application(
        implementation_id=c.impl.id,
        version_id=c.version.id,
        applicant=actor,
        enterprise_id=c.enterprise.id if c.enterprise is not None else None,
        data=clean,
        idempotency_key=key,
        channel="mobile" if "Mobile" in request.headers.get("user-agent", "") else "pc",
        materials=materials,
    )
    hook = submit_hook()
    if hook is not None:
        try:
            target = await hook(session, application)
        except AppError as exc:
            await settle(session, exc)
            c = await _context(
                session, actor, impl_id, _parse_as(form.get(AS_KEY))
            )  # reload what the rollback expired
            return _render(
                request,
                c,
                values=data,
                key=key,
                error=exc.message,
                status=exc.status,
                uploaded=materials,
            )
        return RedirectResponse(safe_next(target, f"/guide/{c.impl.id}"), status_code=303)
    return page(
        request,
        "catalogue/apply_checked.html",
        {
            "impl": c.impl,
            "version": c.version,
            "enterprise": c.enterprise,
            "summary": _summary(c.form, clean),
        },
    )


def _summary(form: dict[str, Any], clean: dict[str, Any]) -> list[dict[str, Any]]:
    """The checked data by section, as the applicant entered it."""
    out = []
    for sec in forms.layout(form, clean):
        rows = [
            {
                "label": f["label"],
                "value": f["value"] if f["type"] != "boolean" else ("是" if f["checked"] else "否"),
            }
            for f in sec["fields"]
            if f["visible"] and f["name"] in clean
        ]
        if rows:
            out.append({"title": sec["title"], "rows": rows})
    return out
