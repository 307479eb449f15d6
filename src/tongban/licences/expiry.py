"""到期提醒与续期 (主动提醒, 自动办理): reminders before a licence expires, and
renewal applications prepared for the holder to confirm.

Reminders: a licence type lists the days before expiry to remind on
(``LicenceType.reminder_days``, e.g. ``[90, 30, 7]``). A licence whose
validity ends in L days is due the reminder of the smallest threshold t ≥ L
it has not had: the holder's inbox (``service.notify_holder``) and an SMS
(the ``licence.expiry_reminded`` event; ``jobs.expiry_sms`` sends it from
the worker). One ``ExpiryReminder`` row per licence, validity end and
threshold — written for t and every larger threshold, so a licence first seen
7 days before expiry gets one message, not three — makes the job idempotent:
run it twice, nothing is sent twice; a renewed licence (a new validity end)
is reminded again.

Renewal (自动办理): for types whose ``auto_renewal`` is enabled with the
实施编码 of the renewal item, the first reminder also prepares a
``LicenceRenewal`` (待确认的续期申请). Nothing is filed until the holder
confirms: ``confirm_renewal`` fills the item's published form from the
holder's verified identity, attaches the expiring licence (and any other the
item accepts from the wallet) instead of uploads, and files the case through
``cases.service.submit`` (channel ``pc``). A form needing more than that is
not guessed: the holder is sent to the online form.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tongban.core.clock import local, now
from tongban.core.db import lock_for_update
from tongban.core.errors import AppError, Conflict, NotFound, ValidationFailed
from tongban.core.outbox import record_event
from tongban.identity.access import Actor, can_act_for_enterprise, scope_enterprises
from tongban.identity.models import Enterprise, Person
from tongban.licences import config, reuse, service, wallet
from tongban.licences.models import Licence, LicenceType
from tongban.licences.wallet_models import ExpiryReminder, LicenceRenewal

log = logging.getLogger("tongban.licences")

BATCH = 2000  # licences reminded per run at most (the job runs hourly; the rest follow)
SMS_HOURS = range(8, 21)  # local hours in which reminders (and their SMS) go out
EVENT = "licence.expiry_reminded"


@dataclass
class ReminderRun:
    reminded: int = 0
    renewals: int = 0
    licence_ids: list[int] = field(default_factory=list)


def due_threshold(thresholds: list[int], days_left: int) -> int | None:
    """The reminder due for a licence ``days_left`` from its end: the smallest threshold ≥ it."""
    fitting = [t for t in thresholds if t >= days_left]
    return min(fitting) if fitting else None


def _thresholds(lt: LicenceType) -> list[int]:
    return sorted(
        {int(d) for d in (lt.reminder_days or []) if isinstance(d, int) and 0 < d <= 3650}
    )


def _insert_ignore(session: AsyncSession) -> Any:
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(ExpiryReminder).on_conflict_do_nothing(
        index_elements=["licence_id", "valid_until", "days"]
    )


async def send_reminders(
    session: AsyncSession, *, on: dt.date | None = None, limit: int = BATCH
) -> ReminderRun:
    """Remind every licence due a reminder today (at most ``limit``); idempotent."""
    on = on or wallet.today()
    run = ReminderRun()
    types = (
        (await session.execute(select(LicenceType).where(LicenceType.status == "active")))
        .scalars()
        .all()
    )
    for lt in types:
        ts = _thresholds(lt)
        lower = -1
        for t in ts:
            if len(run.licence_ids) >= limit:
                return run
            # validity ends in (lower, t] days: this threshold is the one due
            stmt = (
                select(Licence)
                .where(
                    Licence.licence_type_id == lt.id,
                    Licence.valid_until > on + dt.timedelta(days=lower),
                    Licence.valid_until <= on + dt.timedelta(days=t),
                    Licence.status == "valid",
                    ~exists().where(
                        ExpiryReminder.licence_id == Licence.id,
                        ExpiryReminder.valid_until == Licence.valid_until,
                        ExpiryReminder.days == t,
                    ),
                )
                .order_by(Licence.valid_until, Licence.id)
                .limit(limit - len(run.licence_ids))
            )
            for lic in (await session.execute(stmt)).scalars().all():
                await _remind(session, lt, lic, t, ts, on, run)
            lower = t
    return run


async def _remind(
    session: AsyncSession,
    lt: LicenceType,
    lic: Licence,
    t: int,
    ts: list[int],
    on: dt.date,
    run: ReminderRun,
) -> None:
    assert lic.valid_until is not None
    left = (lic.valid_until - on).days
    rows = [
        {
            "licence_id": lic.id,
            "valid_until": lic.valid_until,
            "days": d,
            "days_left": left,
            "sent": d == t,
            "region_code": lic.region_code,
            "at": now(),
        }
        for d in ts
        if d >= t
    ]
    await session.execute(_insert_ignore(session), rows)
    renewal, created = await prepare_renewal(session, lt, lic)
    when = f"{lic.valid_until.year}年{lic.valid_until.month}月{lic.valid_until.day}日"
    title = f"您的{lic.name}将于{when}到期" + (
        "（今天到期）" if left == 0 else f"（还有 {left} 天）"
    )
    body = f"证照编号 {lic.number}，颁发机构 {lic.issuer_name}。"
    body += (
        "已为您准备续期申请，请在“我的证照”中确认后提交。"
        if renewal is not None
        else "请及时办理延续或换证。"
    )
    await service.notify_holder(session, lic, title, body)
    await record_event(
        session,
        EVENT,
        {
            "licence_id": lic.id,
            "days_left": left,
            "valid_until": lic.valid_until.isoformat(),
            "renewal_id": renewal.id if renewal is not None else None,
        },
        region_code=lic.region_code,
    )
    run.reminded += 1
    run.renewals += int(created)
    run.licence_ids.append(lic.id)


# --- SMS (from the worker) ---------------------------------------------------------------------------


def sms_text(lic: Licence, days_left: int, *, renewal: bool) -> str:
    assert lic.valid_until is not None
    tail = lic.number[-4:] if len(lic.number) >= 4 else lic.number
    when = f"{lic.valid_until.month}月{lic.valid_until.day}日"
    text = f"【通办】您的{lic.name}（编号尾号{tail}）将于{lic.valid_until.year}年{when}到期，"
    text += "今天到期，" if days_left == 0 else f"还有{days_left}天，"
    text += "续期申请已准备好，请登录“我的证照”确认提交。" if renewal else "请及时办理延续或换证。"
    return text


async def holder_phones(session: AsyncSession, lic: Licence) -> list[str]:
    """Where the SMS goes: the holder person's phone; for an enterprise, its legal representative's."""
    person_id = lic.holder_person_id
    if person_id is None and lic.holder_enterprise_id is not None:
        person_id = (
            await session.execute(
                select(Enterprise.legal_rep_id).where(Enterprise.id == lic.holder_enterprise_id)
            )
        ).scalar_one_or_none()
    if person_id is None:
        return []
    phone = (
        await session.execute(select(Person.phone).where(Person.id == person_id))
    ).scalar_one_or_none()
    return [phone] if phone else []


def _sms_channel() -> Any:
    from tongban.identity import service as identity_service

    # identity keeps its channels private; ask it for a public send_sms() (see the report).
    return identity_service._channels.get(config.settings().sms_channel)


async def send_sms(session: AsyncSession, payload: dict[str, Any]) -> int:
    """The reminder's SMS (outbox handler): nothing for a licence renewed or ended meanwhile."""
    lic = await session.get(Licence, payload.get("licence_id"))
    if lic is None or lic.status != "valid" or lic.valid_until is None:
        return 0
    if lic.valid_until.isoformat() != payload.get("valid_until"):
        return 0  # renewed since the reminder was recorded
    channel = _sms_channel()
    if channel is None:
        return 0
    text = sms_text(lic, int(payload.get("days_left", 0)), renewal=bool(payload.get("renewal_id")))
    phones = await holder_phones(session, lic)
    for phone in phones:
        await channel.send(phone, text)
    return len(phones)


# --- 续期 (自动办理) -------------------------------------------------------------------------------------


async def prepare_renewal(
    session: AsyncSession, lt: LicenceType, lic: Licence
) -> tuple[LicenceRenewal | None, bool]:
    """The 待确认的续期申请 of an expiring licence, made once per validity end, if
    the type asks for it: (the draft or None, made now)."""
    cfg = lt.auto_renewal or {}
    code = str(cfg.get("implementation_code") or "").strip()
    if not cfg.get("enabled") or not code or lic.valid_until is None:
        return None, False
    found = (
        await session.execute(
            select(LicenceRenewal).where(
                LicenceRenewal.licence_id == lic.id, LicenceRenewal.valid_until == lic.valid_until
            )
        )
    ).scalar_one_or_none()
    if found is not None:
        return found, False
    from tongban.catalogue.models import Implementation

    impl = (
        await session.execute(
            select(Implementation.id, Implementation.name).where(
                Implementation.impl_code == code, Implementation.status == "published"
            )
        )
    ).first()
    if impl is None:
        log.warning(
            "renewal item not published",
            extra={"fields": {"licence_type": lt.code, "implementation_code": code}},
        )
        return None, False
    r = LicenceRenewal(
        licence_id=lic.id,
        region_code=lic.region_code,
        valid_until=lic.valid_until,
        holder_person_id=lic.holder_person_id,
        holder_enterprise_id=lic.holder_enterprise_id,
        implementation_id=impl[0],
        item_name=impl[1],
        status="pending",
        created_at=now(),
    )
    session.add(r)
    await session.flush()
    return r, True


def _mine(actor: Actor) -> Any:
    ents = scope_enterprises(actor, select(Enterprise.id))
    return or_(
        LicenceRenewal.holder_person_id == actor.person_id,
        LicenceRenewal.holder_enterprise_id.in_(ents),
    )


async def get_renewals(
    session: AsyncSession, actor: Actor, *, pending_only: bool = True
) -> list[tuple[LicenceRenewal, Licence]]:
    """The holder's renewal drafts (pending: for a licence still valid with the same validity end)."""
    if actor.kind != "person" or actor.person_id is None:
        return []
    stmt = (
        select(LicenceRenewal, Licence)
        .join(Licence, Licence.id == LicenceRenewal.licence_id)
        .where(_mine(actor))
    )
    if pending_only:
        stmt = stmt.where(
            LicenceRenewal.status == "pending",
            Licence.status == "valid",
            Licence.valid_until == LicenceRenewal.valid_until,
        )
    stmt = stmt.order_by(LicenceRenewal.id.desc()).limit(50)
    return [(r, lic) for r, lic in (await session.execute(stmt)).all()]


class RenewalNeedsForm(AppError):
    """The renewal item's form asks for more than the platform knows: fill it online."""

    code = "renewal_needs_form"
    message = "续期申请需要补充填写申请表，请在线填写后提交"
    status = 422


async def _locked_renewal(session: AsyncSession, actor: Actor, renewal_id: int) -> LicenceRenewal:
    if actor.kind != "person" or actor.person_id is None:
        raise NotFound("未找到该续期申请", code="renewal_not_found")
    r = (
        await lock_for_update(
            session, select(LicenceRenewal).where(LicenceRenewal.id == renewal_id, _mine(actor))
        )
    ).scalar_one_or_none()
    if r is None:
        raise NotFound("未找到该续期申请", code="renewal_not_found")
    if r.holder_enterprise_id is not None and not await can_act_for_enterprise(
        session, actor, r.holder_enterprise_id
    ):
        raise NotFound("未找到该续期申请", code="renewal_not_found")
    return r


async def confirm_renewal(session: AsyncSession, actor: Actor, renewal_id: int) -> Any:
    """The holder confirms: the renewal is filed as a case (channel pc) with the licence attached."""
    from tongban.cases import service as cases_service
    from tongban.catalogue import forms, repository

    r = await _locked_renewal(session, actor, renewal_id)
    if r.status == "submitted" and r.case_id is not None:
        return await cases_service.get_case(session, actor, r.case_id)
    if r.status != "pending":
        raise Conflict("该续期申请已处理", code="renewal_not_pending")
    lic = await session.get(Licence, r.licence_id)
    if lic is None or lic.status != "valid" or lic.valid_until != r.valid_until:
        raise Conflict("该证照已变更、续期或吊销，无需按此续期申请办理", code="renewal_stale")
    impl, version, form = await repository.get_published_form(session, actor, r.implementation_id)
    values, _ent = await repository.get_prefill_values(
        session, actor, enterprise_id=r.holder_enterprise_id
    )
    data = {**forms.prefill(form, values), **forms.locked_fields(form, values)}
    _clean, errors = forms.validate_submission(form, data)
    if errors:
        raise RenewalNeedsForm(
            details={
                "apply_url": f"/apply/{impl.id}"
                + (f"?_as={r.holder_enterprise_id}" if r.holder_enterprise_id else ""),
                "errors": errors,
            }
        )
    offers = await reuse.offers_for(
        session, actor, version.fields, enterprise_id=r.holder_enterprise_id
    )
    chosen: dict[str, str] = {}
    for o in offers:
        ids = [x.id for x in o.licences]
        if lic.id in ids:
            chosen[str(o.index)] = f"{reuse.LICENCE_PREFIX}{lic.id}"
        elif ids:
            chosen[str(o.index)] = f"{reuse.LICENCE_PREFIX}{ids[0]}"
        elif o.data_label and o.data_element:
            chosen[str(o.index)] = f"{reuse.DATA_PREFIX}{o.data_element}"
    resolved = await reuse.resolve(
        session, actor, version.fields, chosen, enterprise_id=r.holder_enterprise_id
    )
    try:
        case, created = await cases_service.submit(
            session,
            actor,
            implementation_id=impl.id,
            form_data=data,
            idempotency_key=f"licence-renewal-{r.id}",
            channel="pc",
            enterprise_id=r.holder_enterprise_id,
            materials=[{"name": x.name, "replaced_by": x.replaced_by} for x in resolved],
            trail_data={**(reuse.trail_data(resolved) or {}), "renewal_of": lic.identifier},
        )
    except ValidationFailed as e:
        if e.code == "form_invalid":
            raise RenewalNeedsForm(
                details={"apply_url": f"/apply/{impl.id}", "errors": e.details}
            ) from e
        raise
    if created:
        await reuse.record_case_use(session, actor, case, resolved)
        lt = await session.get(LicenceType, lic.licence_type_id)
        if lt is not None and (lt.auto_renewal or {}).get("instant"):
            # 自动办理 with an instant-approval rule: decided at once (秒批)
            case = await cases_service.decide_instantly(session, case.id, rule=f"{lt.name}到期续期")
    r.status, r.case_id, r.decided_by, r.decided_at = "submitted", case.id, actor.account_id, now()
    await session.flush()
    return case


async def dismiss_renewal(session: AsyncSession, actor: Actor, renewal_id: int) -> LicenceRenewal:
    """暂不办理: the draft is put aside (reminders continue)."""
    r = await _locked_renewal(session, actor, renewal_id)
    if r.status != "pending":
        raise Conflict("该续期申请已处理", code="renewal_not_pending")
    r.status, r.decided_by, r.decided_at = "dismissed", actor.account_id, now()
    await session.flush()
    return r


def in_sms_hours(at: dt.datetime | None = None) -> bool:
    return local(at or now(), config.settings().timezone).hour in SMS_HOURS


def renewal_dict(r: LicenceRenewal, lic: Licence | None = None) -> dict[str, Any]:
    from tongban.licences.wallet_models import RENEWAL_STATUSES

    out = {
        "id": r.id,
        "licence_id": r.licence_id,
        "valid_until": r.valid_until.isoformat(),
        "implementation_id": r.implementation_id,
        "item_name": r.item_name,
        "status": r.status,
        "status_text": RENEWAL_STATUSES.get(r.status, r.status),
        "case_id": r.case_id,
        "created_at": r.created_at.isoformat(),
    }
    if lic is not None:
        out |= {"licence_name": lic.name, "licence_number": lic.number}
    return out
