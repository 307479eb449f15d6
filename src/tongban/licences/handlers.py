"""Reactions to other domains' events: a case approved for a licence-result item issues the licence.

``case.decide`` (cases.service ``_trail``: payload ``{"case_id", "number",
"state"}``) is recorded for both outcomes; the handler acts when the case
concluded with approval (outcome ``"0"``, 准予) under an implementation
version whose published fields say ``result.kind == "licence"`` with a
``result.licence_type_code``. Idempotent: one licence per case (the unique
``licence.case_id``; a redelivery finds it and stops). A missing licence type
or data that fail the type's schema raise, so the delivery is retried and, if
it keeps failing, parked for an administrator (``/admin``) — fix the
catalogue, retry, and the licence is issued.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.cases.models import Case
from tongban.catalogue.models import ImplementationVersion
from tongban.core.clock import local
from tongban.core.outbox import OutboxEvent, handler
from tongban.core.worker import PermanentError
from tongban.identity.access import Actor
from tongban.identity.models import Enterprise, Person
from tongban.licences import config, service
from tongban.licences.models import NATIONAL, Licence, LicenceType

log = logging.getLogger("tongban.licences")

ISSUER = Actor(
    kind="system",
    account_id=None,
    display_name="系统（办件办结自动颁发）",
    region_code=NATIONAL,
    via="system",
)


def _source(src: str, case: Case, holder: dict[str, str]) -> Any:
    """A value for one licence field: ``form.<key>``, ``case.number``,
    ``case.item_name``, ``case.concluded_on``, ``holder.name``, ``holder.code``
    or ``const:<text>``."""
    kind, _, key = src.partition(".")
    if src.startswith("const:"):
        return src[6:]
    if kind == "form":
        return (case.form_data or {}).get(key)
    if kind == "holder":
        return holder.get(key)
    if src == "case.number":
        return case.number
    if src == "case.item_name":
        return case.item_name
    if src == "case.concluded_on" and case.concluded_at is not None:
        return local(case.concluded_at, config.settings().timezone).date().isoformat()
    return None


def data_from_case(lt: LicenceType, case: Case, holder: dict[str, str]) -> dict[str, Any]:
    """The licence data from the case: each field of the type's schema from the
    form field of the same name, unless the type's ``template.case_fields`` maps it."""
    props = (lt.field_schema or {}).get("properties") or {}
    mapping = (lt.template or {}).get("case_fields") or {}
    data = {}
    for name in props:
        value = _source(str(mapping.get(name) or f"form.{name}"), case, holder)
        if value is not None and value != "":
            data[name] = value
    return data


@handler("case.decide", name="licences.issue_on_approval")
async def issue_on_approval(session: AsyncSession, event: OutboxEvent) -> None:
    case_id = event.payload.get("case_id")
    case = await session.get(Case, case_id) if case_id else None
    if case is None or case.outcome != "0":
        return
    fields = (
        await session.execute(
            select(ImplementationVersion.fields).where(
                ImplementationVersion.id == case.implementation_version_id
            )
        )
    ).scalar_one_or_none() or {}
    result = fields.get("result") or {}
    if result.get("kind") != "licence" or not result.get("licence_type_code"):
        return
    if (
        await session.execute(select(Licence.id).where(Licence.case_id == case.id))
    ).first() is not None:
        return  # issued by an earlier delivery
    lt = await service.get_type_by_code(session, result["licence_type_code"])
    if lt is None:
        raise PermanentError(
            f"证照类型 {result['licence_type_code']} 未在证照目录中登记，办件 {case.number} 的证照无法颁发"
        )
    if lt.holder_kind == "enterprise":
        ent = (
            await session.get(Enterprise, case.applicant_enterprise_id)
            if case.applicant_enterprise_id
            else None
        )
        if ent is None:
            raise PermanentError(
                f"{lt.name}的持证主体应为法人，办件 {case.number} 不是以企业名义申请的"
            )
        holder = {"name": ent.name, "code": ent.credit_code}
        person_id, enterprise_id = None, ent.id
    else:
        p = await session.get(Person, case.applicant_person_id)
        assert p is not None
        holder = {"name": p.name, "code": p.id_number}
        person_id, enterprise_id = p.id, None
    lic = await service.issue(
        session,
        ISSUER,
        type_code=lt.code,
        data=data_from_case(lt, case, holder),
        holder_person_id=person_id,
        holder_enterprise_id=enterprise_id,
        department_id=case.department_id,
        case_id=case.id,
        source="case",
    )
    log.info(
        "licence issued for case", extra={"fields": {"case_id": case.id, "licence_id": lic.id}}
    )
