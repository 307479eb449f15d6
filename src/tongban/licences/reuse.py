"""免证办 (reuse instead of paper): materials replaced by the applicant's
electronic licences or by data the government already holds.

A catalogue material may name a licence type (``licence_type_code``) or a
shared data element (``data_element``) that replaces it (catalogue
``schemas.Material``). When the applicant holds a valid licence of that type —
their own, or the enterprise's they apply for — the online entry offers to
attach it from the wallet instead of an upload (``get_offers``; the fragment
``/me/licences/offers`` on the apply page). Ticking the offer is the
applicant's explicit consent: the form then posts ``_mat.<n> =
licence:<id>`` (or ``data:<element>``) for that material.

On submission (``file_application``, the online entry's submit hook wrapped
around the cases module's) each choice is checked again on the server
(``resolve``: the licence is the applicant's, of the named type, valid today),
the case is filed by ``cases.service.submit`` with ``CaseMaterial`` rows
``replaced_by = "licence:<id>"`` / ``"data:<element>"``, the submission's trail
row carries the authorised use (``trail_data``), and each licence gets a
case share (用证授权 to the case's department) and a ``case_attach`` use —
shown on the holder's licence page. The case's staff open the licence through
``/cases/{case}/licences/{licence}`` (``get_case_licence``), each opening logged.

``materials_saved`` counts materials replaced (减材料) for the dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core import scope
from tongban.core.clock import now
from tongban.core.errors import NotFound, ValidationFailed
from tongban.core.identifiers import mask_resident_id
from tongban.identity.access import Actor
from tongban.identity.models import Enterprise, Person
from tongban.licences import access, wallet
from tongban.licences.models import Licence
from tongban.licences.schemas import effective_status
from tongban.licences.wallet_models import LicenceShare

LICENCE_PREFIX = "licence:"
DATA_PREFIX = "data:"
CASE_SHARE_DAYS = (
    365  # the case's staff may open an attached licence for a year (then it is part of the file)
)
OFFER_LIMIT = 5  # licences offered per material


# --- shared data elements (共享数据) ---------------------------------------------------------------

DataResolver = Callable[[AsyncSession, Actor, int | None], Awaitable[str | None]]


@dataclass(frozen=True)
class DataElement:
    """A shared data element the platform can answer for an applicant: ``resolve``
    returns what is used (masked, for the applicant and the trail), or None
    when the platform does not hold it for them."""

    code: str
    label: str
    source: str
    resolve: DataResolver


_elements: dict[str, DataElement] = {}


def register_data_element(element: DataElement) -> None:
    """Add a data element the platform can answer (the base-data module plugs its own in)."""
    _elements[element.code] = element


async def _identity(session: AsyncSession, actor: Actor, _enterprise_id: int | None) -> str | None:
    person = await session.get(Person, actor.person_id) if actor.person_id else None
    if (
        person is None or person.real_name_level < 2
    ):  # only an identity checked against the population data
        return None
    return f"{person.name[0]}* {mask_resident_id(person.id_number)}（实名核验）"


async def _enterprise(session: AsyncSession, actor: Actor, enterprise_id: int | None) -> str | None:
    if enterprise_id is None:
        return None
    ent = await session.get(Enterprise, enterprise_id)
    return f"{ent.name}（统一社会信用代码 {ent.credit_code}）" if ent is not None else None


for _code in ("person.id_number", "person.id_card", "person.identity"):
    register_data_element(
        DataElement(_code, "居民身份证信息", "统一身份认证（实名核验）", _identity)
    )
for _code in ("enterprise.credit_code", "enterprise.business_licence", "enterprise.registration"):
    register_data_element(
        DataElement(_code, "法人登记信息", "法人库（统一社会信用代码）", _enterprise)
    )


# --- offers on the apply page -------------------------------------------------------------------------


@dataclass
class Offer:
    """One replaceable material and what the applicant holds for it."""

    index: int  # the material's position in the published guide (the upload slot)
    material: str
    licence_type_code: str | None
    data_element: str | None
    licences: list[Licence] = field(default_factory=list)
    data_label: str = ""  # what the data element answers (masked), when the platform holds it
    data_source: str = ""


def _replaceable(fields: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, m in enumerate((fields or {}).get("materials") or []):
        if (
            isinstance(m, dict)
            and m.get("name")
            and (m.get("licence_type_code") or m.get("data_element"))
        ):
            out.append((i, m))
    return out


def _holder_clause(actor: Actor, enterprise_id: int | None) -> Any:
    mine = Licence.holder_person_id == actor.person_id
    return (
        or_(mine, Licence.holder_enterprise_id == enterprise_id)
        if enterprise_id is not None
        else mine
    )


async def offers_for(
    session: AsyncSession, actor: Actor, fields: dict[str, Any] | None, *, enterprise_id: int | None
) -> list[Offer]:
    """For each material of a published guide that a licence type or data element
    replaces: the applicant's valid licences of that type, or the data element's answer."""
    if actor.kind != "person" or actor.person_id is None:
        return []
    wanted = _replaceable(fields)
    if not wanted:
        return []
    codes = {
        str(m["licence_type_code"]).strip().upper()
        for _i, m in wanted
        if m.get("licence_type_code")
    }
    by_type: dict[str, list[Licence]] = {}
    if codes:
        today = wallet.today()
        stmt = (
            access.scope_licences(actor, select(Licence))
            .where(
                Licence.type_code.in_(codes),
                Licence.status == "valid",
                or_(Licence.valid_until.is_(None), Licence.valid_until >= today),
                _holder_clause(actor, enterprise_id),
            )
            .order_by(Licence.id.desc())
            .limit(OFFER_LIMIT * len(codes) * 4)
        )
        for lic in (await session.execute(stmt)).scalars():
            got = by_type.setdefault(lic.type_code, [])
            if len(got) < OFFER_LIMIT:
                got.append(lic)
    out = []
    for i, m in wanted:
        code = str(m.get("licence_type_code") or "").strip().upper() or None
        element = str(m.get("data_element") or "").strip() or None
        offer = Offer(i, str(m["name"]), code, element, list(by_type.get(code or "", [])))
        de = _elements.get(element or "")
        if de is not None:
            answer = await de.resolve(session, actor, enterprise_id)
            if answer:
                offer.data_label, offer.data_source = f"{de.label}：{answer}", de.source
        out.append(offer)
    return out


async def get_offers(
    session: AsyncSession, actor: Actor, implementation_id: int, *, enterprise_id: int | None = None
) -> tuple[Any, list[Offer]]:
    """The published implementation (in the actor's scope) and its offers."""
    from tongban.catalogue import repository

    if actor.kind != "person":
        raise NotFound("免证办供个人用户登录后使用", code="wallet_for_persons")
    impl, version, _form = await repository.get_published_form(session, actor, implementation_id)
    if enterprise_id is not None:
        from tongban.identity.access import can_act_for_enterprise

        if not impl.for_enterprises or not await can_act_for_enterprise(
            session, actor, enterprise_id
        ):
            raise NotFound("您不能代表该企业办事", code="not_found")
    return impl, await offers_for(session, actor, version.fields, enterprise_id=enterprise_id)


# --- checking the choices at submission --------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """One material replaced, checked on the server."""

    slot: str
    name: str
    replaced_by: str  # licence:<id> | data:<element>
    licence: Licence | None = None
    element: str = ""
    label: str = ""


def is_choice(value: str) -> bool:
    return isinstance(value, str) and value.startswith((LICENCE_PREFIX, DATA_PREFIX))


async def resolve(
    session: AsyncSession,
    actor: Actor,
    fields: dict[str, Any] | None,
    chosen: dict[str, str],
    *,
    enterprise_id: int | None,
) -> list[Resolved]:
    """Check each ``slot → licence:<id> | data:<element>`` choice; ValidationFailed names the material."""
    materials = (fields or {}).get("materials") or []
    out = []
    for slot, value in sorted(
        chosen.items(), key=lambda kv: int(kv[0]) if kv[0].isdecimal() else -1
    ):
        m = materials[int(slot)] if slot.isdecimal() and int(slot) < len(materials) else None
        if not isinstance(m, dict) or not m.get("name"):
            raise ValidationFailed("材料信息无效，请刷新页面后重新选择", code="material_invalid")
        name = str(m["name"])
        if value.startswith(LICENCE_PREFIX):
            out.append(
                await _resolve_licence(session, actor, slot, m, value, enterprise_id=enterprise_id)
            )
            continue
        element = value[len(DATA_PREFIX) :]
        de = _elements.get(element)
        if element != (m.get("data_element") or "") or de is None:
            raise ValidationFailed(
                f"材料「{name}」不能以共享数据替代", code="material_not_replaceable"
            )
        answer = await de.resolve(session, actor, enterprise_id)
        if not answer:
            raise ValidationFailed(
                f"未能获取「{name}」所需的共享数据，请上传该材料", code="shared_data_unavailable"
            )
        out.append(
            Resolved(
                slot,
                name,
                f"{DATA_PREFIX}{element}",
                element=element,
                label=f"{de.label}：{answer}",
            )
        )
    return out


async def _resolve_licence(
    session: AsyncSession,
    actor: Actor,
    slot: str,
    m: dict[str, Any],
    value: str,
    *,
    enterprise_id: int | None,
) -> Resolved:
    name = str(m["name"])
    raw = value[len(LICENCE_PREFIX) :]
    code = str(m.get("licence_type_code") or "").strip().upper()
    if not code:
        raise ValidationFailed(f"材料「{name}」不能以电子证照替代", code="material_not_replaceable")
    try:
        lic = (
            await access.access_licence(session, actor, int(raw))
            if raw.isdecimal() and len(raw) < 19
            else None
        )
    except NotFound:
        lic = None
    if lic is None:
        raise ValidationFailed(
            f"材料「{name}」所选的电子证照不存在或不属于您", code="licence_not_yours"
        )
    if lic.type_code != code:
        raise ValidationFailed(
            f"所选证照不是材料「{name}」要求的证照类型", code="licence_type_mismatch"
        )
    if not (
        lic.holder_person_id == actor.person_id
        or (enterprise_id is not None and lic.holder_enterprise_id == enterprise_id)
    ):
        raise ValidationFailed(
            f"材料「{name}」所选的电子证照不是申请人的证照", code="licence_not_yours"
        )
    status = effective_status(lic, wallet.today())
    if status != "valid":
        from tongban.licences.schemas import STATUS_TEXT

        raise ValidationFailed(
            f"所选证照{STATUS_TEXT[status]}，不能替代材料「{name}」，请上传材料或更换证照",
            code="licence_not_valid",
        )
    return Resolved(
        slot, name, f"{LICENCE_PREFIX}{lic.id}", licence=lic, label=f"{lic.name}（{lic.number}）"
    )


def trail_data(resolved: list[Resolved]) -> dict[str, Any] | None:
    """What the submission's trail row records of the authorised use (用证授权)."""
    if not resolved:
        return None
    uses = []
    for r in resolved:
        if r.licence is not None:
            uses.append(
                {
                    "material": r.name,
                    "kind": "licence",
                    "licence_id": r.licence.id,
                    "licence_name": r.licence.name,
                    "number": r.licence.number,
                    "identifier": r.licence.identifier,
                    "issuer": r.licence.issuer_name,
                }
            )
        else:
            uses.append(
                {"material": r.name, "kind": "data", "element": r.element, "label": r.label}
            )
    return {"authorised_use": uses}


async def record_case_use(
    session: AsyncSession, actor: Actor, case: Any, resolved: list[Resolved]
) -> list[LicenceShare]:
    """A case share (用证授权 to the case's department) and a ``case_attach`` use per licence."""
    from tongban.regions.models import Department

    dept = await session.get(Department, case.department_id)
    recipient = dept.name if dept is not None else "办理部门"
    at = now()
    shares = []
    for r in resolved:
        lic = r.licence
        if lic is None:
            continue
        share = LicenceShare(
            licence_id=lic.id,
            region_code=lic.region_code,
            kind="case",
            case_id=case.id,
            case_region_code=case.region_code,
            material_name=r.name[:200],
            recipient=recipient[:200],
            purpose=f"办理「{case.item_name}」（办件 {case.number}）：替代材料「{r.name}」"[:500],
            valid_from=at,
            valid_until=at + dt.timedelta(days=CASE_SHARE_DAYS),
            granted_by=actor.account_id,
            granted_by_person=actor.person_id,
            status="active",
            created_at=at,
        )
        session.add(share)
        await session.flush()
        wallet.record_use(
            session,
            lic,
            "case_attach",
            share=share,
            case_id=case.id,
            party=recipient,
            actor_ref=actor.ref,
        )
        shares.append(share)
    return shares


# --- the online entry's submit hook ------------------------------------------------------------------

_inner: Any = None


async def file_with_choices(
    session: AsyncSession,
    actor: Actor,
    *,
    implementation_id: int,
    form_data: dict[str, Any],
    idempotency_key: str,
    channel: str,
    enterprise_id: int | None,
    materials: dict[str, str],
) -> tuple[Any, bool]:
    """File an application whose materials (slot → upload token, ``commitment``,
    ``licence:<id>`` or ``data:<element>``) include wallet choices: the choices are
    checked, the case filed through the cases service with the authorised use in its
    trail, and each licence shared with the case. Returns ``(case, created)``."""
    from tongban.cases import service as cases_service
    from tongban.cases import views
    from tongban.catalogue import repository

    _impl, version, _form = await repository.get_published_form(session, actor, implementation_id)
    chosen = {k: v for k, v in materials.items() if is_choice(v)}
    resolved = await resolve(session, actor, version.fields, chosen, enterprise_id=enterprise_id)
    names = views.slot_names(views.material_slots(version.fields))
    entries: list[tuple[int, dict[str, Any]]] = []
    for slot, value in materials.items():
        if slot not in chosen:
            entries += [
                (int(slot) if slot.isdecimal() else -1, m)
                for m in views.materials_from({slot: value}, names, actor)
            ]
    entries += [(int(r.slot), {"name": r.name, "replaced_by": r.replaced_by}) for r in resolved]
    entries.sort(key=lambda e: e[0])
    case, created = await cases_service.submit(
        session,
        actor,
        implementation_id=implementation_id,
        form_data=form_data,
        idempotency_key=idempotency_key,
        channel=channel,
        enterprise_id=enterprise_id,
        materials=[m for _i, m in entries],
        trail_data=trail_data(resolved),
    )
    if created:
        await record_case_use(session, actor, case, resolved)
    return case, created


async def file_application(session: AsyncSession, application: Any) -> str:
    """Submit hook of ``/apply/{id}``: applications without wallet choices go to the
    cases module's hook unchanged; with them, ``file_with_choices``."""
    if not any(is_choice(v) for v in application.materials.values()):
        if _inner is None:  # pragma: no cover - install() wraps the cases hook
            raise NotFound("网上申报暂未开通")
        return await _inner(session, application)
    case, _created = await file_with_choices(
        session,
        application.applicant,
        implementation_id=application.implementation_id,
        form_data=application.data,
        idempotency_key=application.idempotency_key,
        channel=application.channel,
        enterprise_id=application.enterprise_id,
        materials=dict(application.materials),
    )
    return f"/me/cases/{case.id}?msg=submitted"


def install() -> None:
    """Wrap the online entry's submit hook (call after the cases module installed its own)."""
    global _inner
    from tongban.catalogue import apply_pages

    current = apply_pages.submit_hook()
    if current is file_application:
        return
    _inner = current
    apply_pages.register_submit_hook(file_application)


# --- the case's view of an attached licence ------------------------------------------------------------


async def get_case_licence(
    session: AsyncSession, actor: Actor, case_id: int, licence_id: int
) -> tuple[Any, Licence, LicenceShare]:
    """A licence attached to a case, for the case's applicant and staff (NotFound outside the case's scope)."""
    from tongban.cases import service as cases_service

    case = await cases_service.get_case(session, actor, case_id)
    share = (
        await session.execute(
            select(LicenceShare)
            .where(
                LicenceShare.case_id == case.id,
                LicenceShare.licence_id == licence_id,
                LicenceShare.kind == "case",
            )
            .order_by(LicenceShare.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if share is None:
        raise NotFound("该办件没有引用这份电子证照", code="licence_not_attached")
    if wallet.share_state(share) != "active":
        raise wallet.ShareUnavailable(
            "持证人已撤销该证照的用证授权，或授权已过期", code="licence_share_revoked"
        )
    lic = await session.get(Licence, licence_id)
    if lic is None:  # pragma: no cover
        raise NotFound()
    return case, lic, share


# --- 减材料 for the dashboard ---------------------------------------------------------------------------


async def materials_saved(
    session: AsyncSession,
    actor: Actor,
    region_code: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """Materials replaced by an electronic licence or shared data (减材料) in cases of the
    region subtree the actor may see, submitted in [since, until) when given."""
    from tongban.cases import service as cases_service
    from tongban.cases.models import Case, CaseMaterial

    stmt = (
        select(func.count())
        .select_from(CaseMaterial)
        .join(Case, Case.id == CaseMaterial.case_id)
        .where(
            or_(
                CaseMaterial.replaced_by.like(f"{LICENCE_PREFIX}%"),
                CaseMaterial.replaced_by.like(f"{DATA_PREFIX}%"),
            )
        )
    )
    if region_code != "000000000000":
        stmt = stmt.where(scope.in_subtree(Case.region_code, region_code))
    if since is not None:
        stmt = stmt.where(Case.submitted_at >= since)
    if until is not None:
        stmt = stmt.where(Case.submitted_at < until)
    stmt = cases_service.scope_cases(actor, stmt)
    return int((await session.execute(stmt)).scalar() or 0)
