"""我的证照 pages: the wallet, a licence with its authorisations and uses, the
third party's view of a shared licence, an attached licence seen from its case,
the apply page's 免证办 offer, renewal drafts. Thin: reads and changes through
``wallet``, ``reuse`` and ``expiry``; the licence itself is drawn by the core's
card, PDF and QR (``licences.pages``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongban.catalogue import pdf
from tongban.catalogue.guide_pages import public_base
from tongban.core.clock import now
from tongban.core.errors import AppError, NotFound
from tongban.identity.access import Actor
from tongban.identity.api import client_ip
from tongban.licences import expiry, reuse, service, wallet
from tongban.licences import pages as core_pages
from tongban.licences import pdf as licence_pdf
from tongban.licences.models import VERIFY_CHANNELS, VERIFY_RESULTS, Licence
from tongban.licences.schemas import history_dict, licence_dict
from tongban.web.deps import DB, CurrentActor, OptionalActor, VerifiedForm
from tongban.web.pages import is_htmx, page, settle
from tongban.web.render import environment, preferences, to_traditional

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
CSS = [*core_pages.CSS, "/static/css/wallet.css"]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _login(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)


def _holder(actor: Actor | None) -> Actor:
    if actor is None or actor.kind != "person":
        raise NotFound("“我的证照”供个人用户登录后使用", code="wallet_for_persons")
    return actor


def _row(lic: Licence, on: dt.date) -> dict[str, Any]:
    v = licence_dict(lic, full=True, today=on)
    return {
        "v": v,
        "countdown": wallet.expiry_text(lic, on),
        "level": wallet.expiry_level(lic, on),
        "days_left": wallet.days_left(lic, on),
        "holder_kind": "enterprise" if lic.holder_enterprise_id else "person",
    }


# --- the wallet ------------------------------------------------------------------------------------


@router.get("/me/licences", response_class=HTMLResponse)
async def wallet_page(
    request: Request,
    session: DB,
    actor: OptionalActor,
    status: Annotated[str, Query(max_length=10)] = "",
    holder: Annotated[str, Query(max_length=24)] = "",
    type_: Annotated[str, Query(alias="type", max_length=21)] = "",
    q: Annotated[str, Query(max_length=50)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """我的证照: the holder's licences with status, countdown, filters and pages."""
    if actor is None:
        return _login(request)
    actor = _holder(actor)
    if status and status not in wallet.STATUS_FILTERS:
        status = ""
    await wallet.claim_imported(session, actor)
    f = wallet.WalletFilter(status=status, holder=holder, type_code=type_, q=q, before=before)
    rows, next_before = await wallet.get_wallet(session, actor, f)
    on = wallet.today()
    ctx: dict[str, Any] = {
        "items": [_row(lic, on) for lic in rows],
        "next_before": next_before,
        "before": before,
        "kept": {
            k: v
            for k, v in {"status": status, "holder": holder, "type": type_, "q": q}.items()
            if v
        },
        "status": status,
        "holder": holder,
        "q": q,
        "type": type_,
        "css": CSS,
        "nav": "licences",
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return page(request, "licences/wallet_list_results.html", ctx)
    ctx |= {
        "counts": await wallet.wallet_counts(session, actor),
        "status_filters": wallet.STATUS_FILTERS,
        "holders": await wallet.holder_choices(session, actor),
        "renewals": [
            expiry.renewal_dict(r, lic) for r, lic in await expiry.get_renewals(session, actor)
        ],
        "message": {"dismissed": "已暂缓该续期申请。"}.get(request.query_params.get("msg", ""), ""),
        "error": "",
    }
    return page(request, "licences/wallet_list.html", ctx)


# --- 免证办 on the apply page ----------------------------------------------------------------------------------


@router.get("/me/licences/offers", response_class=HTMLResponse)
async def offers_fragment(
    request: Request,
    session: DB,
    actor: OptionalActor,
    impl: Annotated[int, Query(ge=1, le=2**63 - 1)],
    as_: Annotated[str, Query(alias="as", max_length=20)] = "",
    sel: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The licences (and shared data) the applicant may attach instead of uploads (htmx fragment)."""
    if actor is None or actor.kind != "person":
        return HTMLResponse("")
    enterprise_id = int(as_) if as_.isdecimal() and len(as_) < 19 else None
    try:
        implementation, offers = await reuse.get_offers(
            session, actor, impl, enterprise_id=enterprise_id
        )
    except NotFound:
        return HTMLResponse("")
    selected = dict(part.split("=", 1) for part in sel.split(",") if "=" in part)
    on = wallet.today()
    items = []
    for o in offers:
        items.append(
            {
                "index": o.index,
                "material": o.material,
                "data_label": o.data_label,
                "data_source": o.data_source,
                "data_element": o.data_element,
                "licence_type_code": o.licence_type_code,
                "licences": [
                    {
                        "id": x.id,
                        "name": x.name,
                        "number": x.number,
                        "holder": x.holder_name,
                        "issuer": x.issuer_name,
                        "countdown": wallet.expiry_text(x, on),
                    }
                    for x in o.licences
                ],
                "selected": selected.get(str(o.index), ""),
            }
        )
    ctx = {
        "items": [i for i in items if i["licences"] or i["data_label"]],
        "missing": [i for i in items if not (i["licences"] or i["data_label"])],
        "impl": implementation,
    }
    return page(request, "licences/wallet_offers.html", ctx)


# --- one licence --------------------------------------------------------------------------------------


async def _licence_context(
    request: Request, session: Any, actor: Actor, lic: Licence
) -> dict[str, Any]:
    ctx = await core_pages._context(request, session, actor, lic)
    on = wallet.today()
    shares = await wallet.get_shares(session, lic.id)
    at = now()
    ctx |= {
        "css": CSS,
        "nav": "licences",
        "countdown": wallet.expiry_text(lic, on),
        "level": wallet.expiry_level(lic, on),
        "shares": [wallet.share_dict(s, at=at) | {"until": s.valid_until} for s in shares],
        "uses": [
            wallet.use_dict(u) | {"when": u.at} for u in await wallet.get_uses(session, lic.id)
        ],
        "verifications": [
            {
                "at": r.at,
                "channel": VERIFY_CHANNELS.get(r.channel, r.channel),
                "result": VERIFY_RESULTS.get(r.result, r.result),
            }
            for r in await service.get_verifications(session, lic.id, limit=20)
        ],
        "history": [history_dict(h) for h in await service.get_history(session, lic.id)],
        "share_days": wallet.SHARE_DEFAULT_DAYS,
        "share_max_days": wallet.SHARE_MAX_DAYS,
        "form": {},
        "new_link": "",
        "message": "",
        "error": "",
        "field_errors": {},
    }
    return ctx


@router.get("/me/licences/{licence_id}", response_class=HTMLResponse)
async def licence_page(
    request: Request, session: DB, actor: OptionalActor, licence_id: Id
) -> Response:
    """One licence in the wallet: the certificate with its QR code, PDF, 用证授权 and 使用记录."""
    if actor is None:
        return _login(request)
    lic = await wallet.get_holder_licence(session, _holder(actor), licence_id)
    ctx = await _licence_context(request, session, actor, lic)
    ctx["message"] = {"revoked": "已撤销该授权，对方将无法再查看这份证照。"}.get(
        request.query_params.get("msg", ""), ""
    )
    return page(request, "licences/wallet_licence.html", ctx)


def _int(value: str, default: int) -> int:
    value = (value or "").strip()
    return int(value) if value.isdecimal() and len(value) < 6 else default


@router.post("/me/licences/{licence_id}/shares", response_class=HTMLResponse)
async def create_share(
    request: Request, session: DB, actor: CurrentActor, form: VerifiedForm, licence_id: Id
) -> Response:
    """授权第三方使用: the link is shown once, on the page this answers."""
    actor = _holder(actor)
    try:
        share, token = await wallet.create_share(
            session,
            actor,
            licence_id,
            recipient=form.get("recipient", ""),
            purpose=form.get("purpose", ""),
            days=_int(form.get("days", ""), 0),
            show_full=form.get("show_full") == "1",
        )
    except AppError as e:
        if e.status == 404:
            raise
        await settle(session, e)
        lic = await wallet.get_holder_licence(session, actor, licence_id)
        ctx = await _licence_context(request, session, actor, lic)
        ctx |= {
            "error": e.message,
            "form": form,
            "field_errors": {
                d["field"]: d["message"]
                for d in (e.details or [])
                if isinstance(d, dict) and "field" in d
            },
        }
        return page(request, "licences/wallet_licence.html", ctx, status=e.status)
    lic = await wallet.get_holder_licence(session, actor, licence_id)
    ctx = await _licence_context(request, session, actor, lic)
    ctx |= {
        "new_link": f"{public_base(request)}/shared/{token}",
        "new_share": wallet.share_dict(share) | {"until": share.valid_until},
        "message": f"已授权“{share.recipient}”使用这份证照。",
    }
    return page(request, "licences/wallet_licence.html", ctx)


@router.post("/me/licences/{licence_id}/shares/{share_id}/revoke")
async def revoke_share(
    session: DB, actor: CurrentActor, form: VerifiedForm, licence_id: Id, share_id: Id
) -> Response:
    await wallet.revoke_share(session, _holder(actor), licence_id, share_id)
    return RedirectResponse(f"/me/licences/{licence_id}?msg=revoked#shares", status_code=303)


# --- the third party's view --------------------------------------------------------------------------------


async def _pdf(
    request: Request, session: Any, actor: Actor | None, lic: Licence, *, full: bool
) -> Response:
    ctx = await core_pages._context(request, session, actor, lic)  # type: ignore[arg-type]
    ctx["v"] = licence_dict(lic, full=full, today=wallet.today())
    ctx |= {"font_stack": pdf.FONT_STACK, "prefs": preferences(request)}
    html = environment().get_template("licences/licence_pdf.html").render(ctx)
    if ctx["prefs"]["script"] == "hant":
        html = to_traditional(html)
    data = await licence_pdf.cached_pdf(html, data_dir=request.app.state.settings.data_dir)
    name = quote(f"{lic.name}-{lic.number}.pdf")
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename=\"licence-{lic.id}.pdf\"; filename*=UTF-8''{name}",
            "Cache-Control": "private, no-store",
        },
    )


def _unavailable(request: Request, e: AppError) -> HTMLResponse:
    resp = page(
        request,
        "licences/wallet_unavailable.html",
        {"message": e.message, "css": CSS, "nav": ""},
        status=e.status,
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex"
    return resp


@router.get("/shared/{token}.pdf")
async def shared_pdf(request: Request, session: DB, actor: OptionalActor, token: Token) -> Response:
    """The shared licence's PDF, for the authorised third party (logged)."""
    try:
        share, lic = await wallet.open_share(session, token)
    except wallet.ShareUnavailable as e:
        return _unavailable(request, e)
    wallet.record_use(
        session,
        lic,
        "download",
        share=share,
        actor_ref=actor.ref if actor else "anonymous",
        ip=client_ip(request),
    )
    return await _pdf(request, session, actor, lic, full=share.show_full)


@router.get("/shared/{token}", response_class=HTMLResponse)
async def shared_page(
    request: Request,
    session: DB,
    actor: OptionalActor,
    token: Token,
    verify: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The third party opens a shared licence (logged as viewed); ``?verify=1``
    verifies it online (logged as verified, and in the licence's 核验记录)."""
    try:
        share, lic = await wallet.open_share(session, token)
    except wallet.ShareUnavailable as e:
        return _unavailable(request, e)
    ref, ip = (actor.ref if actor else "anonymous"), client_ip(request)
    ctx = await core_pages._context(request, session, actor, lic)  # type: ignore[arg-type]
    on = wallet.today()
    ctx |= {
        "v": licence_dict(lic, full=share.show_full, today=on),
        "share": wallet.share_dict(share) | {"until": share.valid_until},
        "css": CSS,
        "nav": "",
        "token": token,
        "result": None,
        "countdown": wallet.expiry_text(lic, on),
    }
    if verify == "1":
        v = await service.verify(
            session,
            text=lic.identifier,
            channel="page",
            requester=f"share:{share.id}",
            ip=ip,
            maker=request.app.state.sessionmaker,
        )
        wallet.record_use(
            session, lic, "verify", share=share, actor_ref=ref, ip=ip, result=v.result
        )
        style, mark, word = core_pages.RESULT_STYLE[v.result]
        ctx["result"] = {
            **v.to_dict(),
            "style": style,
            "mark": mark,
            "word": word,
            "checked": now(),
        }
    else:
        wallet.record_use(session, lic, "view", share=share, actor_ref=ref, ip=ip)
    resp = page(request, "licences/wallet_shared.html", ctx)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Robots-Tag"] = "noindex"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return resp


# --- an attached licence, from its case -------------------------------------------------------------------


@router.get("/cases/{case_id}/licences/{licence_id}", response_class=HTMLResponse)
async def case_licence(
    request: Request, session: DB, actor: CurrentActor, case_id: Id, licence_id: Id
) -> Response:
    """A licence that replaced a material of the case (免证办), for the case's staff and
    applicant; a staff opening is logged in the holder's 使用记录."""
    case, lic, share = await reuse.get_case_licence(session, actor, case_id, licence_id)
    staff = actor.kind == "staff"
    if staff:
        wallet.record_use(
            session,
            lic,
            "case_view",
            share=share,
            case_id=case.id,
            party=f"{share.recipient} {actor.display_name}",
            actor_ref=actor.ref,
            ip=client_ip(request),
        )
    ctx = await core_pages._context(request, session, actor, lic)
    ctx |= {
        "case": case,
        "share": wallet.share_dict(share),
        "css": CSS,
        "nav": "" if staff else "cases",
        "layout": "layouts/workbench.html" if staff else "layouts/portal.html",
        "case_href": f"/workbench/cases/{case.id}" if staff else f"/me/cases/{case.id}",
        "countdown": wallet.expiry_text(lic, wallet.today()),
    }
    return page(request, "licences/wallet_case_licence.html", ctx)


def offers_url(impl_id: int, enterprise_id: int | None, uploaded: dict[str, str] | None) -> str:
    """The offers fragment's address for the apply page (keeps choices made before a re-render)."""
    params: dict[str, Any] = {"impl": impl_id}
    if enterprise_id:
        params["as"] = enterprise_id
    sel = ",".join(f"{k}={v}" for k, v in (uploaded or {}).items() if reuse.is_choice(v))
    if sel:
        params["sel"] = sel
    return "/me/licences/offers?" + urlencode(params)


environment().globals["wallet_offers_url"] = offers_url


# --- renewals -----------------------------------------------------------------------------------------------


@router.post("/me/licences/renewals/{renewal_id}/confirm", response_class=HTMLResponse)
async def confirm_renewal(
    request: Request, session: DB, actor: CurrentActor, form: VerifiedForm, renewal_id: Id
) -> Response:
    """确认续期: the prepared application is filed as a case."""
    actor = _holder(actor)
    try:
        case = await expiry.confirm_renewal(session, actor, renewal_id)
    except expiry.RenewalNeedsForm as e:
        await settle(session, e)
        return RedirectResponse(
            str((e.details or {}).get("apply_url") or "/me/licences"), status_code=303
        )
    return RedirectResponse(f"/me/cases/{case.id}?msg=submitted", status_code=303)


@router.post("/me/licences/renewals/{renewal_id}/dismiss")
async def dismiss_renewal(
    session: DB, actor: CurrentActor, form: VerifiedForm, renewal_id: Id
) -> Response:
    await expiry.dismiss_renewal(session, _holder(actor), renewal_id)
    return RedirectResponse("/me/licences?msg=dismissed", status_code=303)
